"""The lead board: a live web view of the funnel, the hot leads, each lead and the scoring model.

Served by every worker's web server under /board (streams/api/board/views.py); plain HTML rendered
on the server (pages.py, model_tables.py, charts.py), kept live by server-sent events from the qualification
topic (feed.py), behind the API token when one is set (auth.py).
"""
