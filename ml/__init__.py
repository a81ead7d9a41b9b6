"""Lead scoring: plain data in, plain data out.

Kept free of Django and of the project so it can be trained, benchmarked and tested on its own; the CRM turns
its models into `LeadRecord` dicts (see `ml.features`) and stores what `ml.registry` hands back.
"""
