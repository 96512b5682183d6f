"""The vocabulary of the scoring core: signal kinds, score components, ignore reasons."""

from enum import Enum


class Component(str, Enum):
    """A separately decaying part of a lead's score."""

    INTEREST = "interest"  # engagement with content: separates MQL from IQL
    INTENT = "intent"  # buying signals (pricing, demo, trial): fades faster, separates SQL from MQL
    NEGATIVE = "negative"  # unsubscribes, bounces: subtracted from engagement, decays on its own


class SignalKind(str, Enum):
    """Behaviour the model knows how to score (docs/scoring-model.md)."""

    PAGE_VIEW = "page_view"
    PRODUCT_VIEW = "product_view"
    PRICING_VIEW = "pricing_view"
    CAREERS_VIEW = "careers_view"
    BLOG_VIEW = "blog_view"
    CASE_STUDY_DOWNLOAD = "case_study_download"
    WHITEPAPER_DOWNLOAD = "whitepaper_download"
    PRICE_LIST_DOWNLOAD = "price_list_download"
    CONTACT_FORM = "contact_form"
    DEMO_REQUEST = "demo_request"
    NEWSLETTER_SIGNUP = "newsletter_signup"
    WEBINAR_REGISTERED = "webinar_registered"
    WEBINAR_ATTENDED = "webinar_attended"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    EMAIL_REPLY = "email_reply"
    SURVEY_ANSWER = "survey_answer"
    TRIAL_SIGNUP = "trial_signup"
    FEATURE_USED = "feature_used"
    POSITIVE_REVIEW = "positive_review"
    REFERRAL = "referral"
    DWELL = "dwell"  # a page read for at least the model's dwell minimum (page-leave reports)
    EMAIL_UNSUBSCRIBE = "email_unsubscribe"
    EMAIL_BOUNCE = "email_bounce"
    EMAIL_HARD_BOUNCE = "email_hard_bounce"


class IgnoreReason(str, Enum):
    """Why an event was accounted for without being scored (a small fixed set: metric labels)."""

    BOT = "bot"
    NO_CONSENT = "no_consent"
    UNMAPPED_EVENT = "unmapped_event"
    OUTCOME_ONLY = "outcome_only"
    EXPIRED_ANONYMOUS = "expired_anonymous"
    ERASED_LEAD = "erased_lead"
    BRIEF_VISIT = "brief_visit"  # a page-leave report under the model's dwell minimum


class DealOutcome(str, Enum):
    """What a CRM outcome event says about a lead's deal: used for calibration, never scored."""

    OPPORTUNITY = "opportunity"  # an opportunity was opened: sales took the lead on
    WON = "won"
    LOST = "lost"
