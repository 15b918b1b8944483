"""The HTTP edge: the app and its lifespan, routes, admission (key, quota, permit), limits, errors, the playground.

It may import the pipeline; the pipeline never imports it.
"""
