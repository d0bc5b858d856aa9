"""The edgewise controller: edge failover without a mesh, inside the cluster.

* :mod:`.endpoints` -- the EndpointSlices of each edge zone's selectorless Service: the
  zone's Ready pods, else the Region's, never a sibling edge zone's;
* :mod:`.fanout` -- the ``EdgeApplication`` resource: its copies in every zone whose
  nodes appear, removal after a grace period, per-zone status;
* :mod:`.operator` -- the kopf handlers that feed both from the API and write back.

The layer sits on top of plan (labels, the workload objects) and topology (the network
model); nothing below imports it.
"""
