"""The AWS layer (boto3): read an account (``discover``), check a spec against it
(``validate --aws``) and carry out a plan's RUNBOOK (``apply``).

Credentials come only from the standard AWS chain and are never printed or written.
"""
