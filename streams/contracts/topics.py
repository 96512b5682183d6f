"""Every topic's and table's name: the documented contract, needed by the worker, the collector, the alerts and the ops tools alike."""

from __future__ import annotations

from streams.config.environment import settings

RAW_EVENTS = "leads.events.raw"
DEAD_LETTERS = "leads.events.dlq"
SIGNALS = "leads.signals"
QUALIFICATION = "leads.qualification"
FEEDBACK = "leads.feedback"
ACCOUNT_MEMBERS = "accounts.members"
ACCOUNT_QUALIFICATION = "accounts.qualification"
# The applied scoring model: one partition, compacted, read whole by every worker (streams/worker/model_rollout.py).
CONTROL = "leads.control"
# Where `leadstream replay` writes the changes a candidate model would have made.
REPLAY_QUALIFICATION = "leads.qualification.replay"
# Where the workers write the changes a shadow model (`leadstream model shadow`) makes: never read by alerts or the CRM.
SHADOW_QUALIFICATION = "leads.qualification.shadow"
ALL_TOPICS = (RAW_EVENTS, DEAD_LETTERS, SIGNALS, QUALIFICATION, FEEDBACK, ACCOUNT_MEMBERS, ACCOUNT_QUALIFICATION,
              CONTROL, REPLAY_QUALIFICATION, SHADOW_QUALIFICATION)

# The worker's tables (streams/worker/tables.py declares them on the app under these names), each
# backed by a compacted changelog topic "<app_id>-<table>-changelog" created with the topics above.
LEADS_TABLE = "leads"
ERASURES_TABLE = "erasures"
ACCOUNTS_TABLE = "accounts"
VISITORS_TABLE = "visitors"
EMAILS_TABLE = "emails"
# Lead id -> its state under the shadow model (its own stage history), apart from the live one.
SHADOW_LEADS_TABLE = "shadow_leads"
ALL_TABLES = (LEADS_TABLE, ERASURES_TABLE, ACCOUNTS_TABLE, VISITORS_TABLE, EMAILS_TABLE, SHADOW_LEADS_TABLE)


def topic_name(name: str) -> str:
    """The name on the broker: the contract's name behind the deployment's prefix."""
    return settings().topic_prefix + name
