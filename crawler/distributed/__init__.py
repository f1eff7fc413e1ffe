"""Scale-out: one site's crawl as batches run by many workers (Celery), or locally.

``crawler.batches`` says what a batch is; here: ``ledger`` (the ``crawl_batches`` table that
makes a batch run once however often it is delivered), ``tasks`` (running one batch),
``executor`` (running a cycle's batches locally or on Celery workers), ``celery_app`` (the
worker's app) and ``politeness`` (a site's limits shared by all workers through Redis).
"""
