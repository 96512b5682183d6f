"""``leadstream collector``: the HTTP front door that puts events on ``leads.events.raw``.

Stateless (any number run behind a load balancer): a tracking pixel, the Segment/RudderStack
HTTP API (track, page, identify, group, alias, batch), a compact native JSON form, a plain HTML
form endpoint and a small JS snippet. Events are validated at the edge (bad ones answered 400
with a reason each), client IPs truncated, Do-Not-Track and consent=false honoured (nothing is
kept but a counter), and produced keyed by userId, else anonymousId. Identity stitching is not
done here but in the stream, so events produced straight to Kafka get it too.
"""

from streams.collector.config import CollectorSettings, collector_settings, collector_settings_from
from streams.collector.server import Collector, run_collector

__all__ = ["Collector", "CollectorSettings", "collector_settings", "collector_settings_from", "run_collector"]
