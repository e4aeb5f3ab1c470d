"""The living demo of ``raymon server --demo``: the original Raymon's house-prices walkthrough, replayed.

- ``story``: the walkthrough as data and traffic (a model, a profile built on part of the cheap
  houses, the manifest, the clients and their timeline, the events a pricing service and a
  labelling service log). Pure: no database, no HTTP, no clock of its own.
- ``replay``: the background thread of the server process that plays the story against the
  server's own ingest API, paced in real time (``RAYMON_DEMO_SPEED`` faster), looping.

Setting the demo project up and removing it is ``services.demo``'s job. Nothing here imports the
tests, FastAPI or SQLAlchemy.
"""
