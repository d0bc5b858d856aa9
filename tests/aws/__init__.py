"""Tests of the AWS layer against moto on loopback (see conftest.py)."""
