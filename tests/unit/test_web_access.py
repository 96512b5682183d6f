"""Who may use the worker's HTTP server: tokens and scopes, the start-up refusal, the board's cookie and
sign-in throttle, the request guards (Host, Content-Type, headers), and the live feed's line breaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from streams.api.access import Scope, refusal
from streams.api.board import auth
from streams.api.board.feed import server_sent_event
from streams.api.web_guard import SECURITY_HEADERS, guard_middleware, same_origin, security_headers
from streams.collector.config import collector_settings_from
from streams.config.environment import settings_from
from streams.config.web_access import WebAccess, is_loopback, refuse_open_exposure, web_access_from
from streams.errors import ConfigError
from streams.rate_limits import RateLimiter, retry_after
from tests.event_stream import browser_events

READ = "r" * 32
ADMIN = "a" * 40


def test_a_token_shorter_than_32_characters_is_refused_naming_the_setting_not_echoing_it():
    for name in ("LEADSTREAM_API_TOKEN", "LEADSTREAM_ADMIN_TOKEN"):
        with pytest.raises(ConfigError, match=f"^{name}: must be at least 32 characters") as refused:
            web_access_from({name: "short-secret-123"})
        assert "short-secret-123" not in str(refused.value)


def test_every_secret_left_as_the_env_example_placeholder_is_refused_at_start():
    # Copying .env.example and starting would otherwise open the API to a token printed in this repository.
    example = dict(line.split("=", 1) for line in (Path(__file__).parents[2] / ".env.example").read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    for name in ("LEADSTREAM_API_TOKEN", "LEADSTREAM_ADMIN_TOKEN"):
        with pytest.raises(ConfigError, match=f"^{name}: still the placeholder from .env.example"):
            web_access_from({name: example[name]})
    for name in ("LEADSTREAM_COLLECTOR_WRITE_KEYS", "LEADSTREAM_COLLECTOR_PIXEL_KEYS"):
        with pytest.raises(ConfigError, match=f"^{name} .*: still the placeholder from .env.example"):
            collector_settings_from({name: example[name]})


def test_the_admin_token_must_differ_from_the_read_token():
    with pytest.raises(ConfigError, match="^LEADSTREAM_ADMIN_TOKEN: must differ"):
        web_access_from({"LEADSTREAM_API_TOKEN": READ, "LEADSTREAM_ADMIN_TOKEN": READ})


@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
def test_the_cap_on_board_event_streams_is_a_whole_number_of_at_least_one(value):
    with pytest.raises(ConfigError, match="^LEADSTREAM_BOARD_MAX_STREAMS: expected"):
        web_access_from({"LEADSTREAM_BOARD_MAX_STREAMS": value})
    assert web_access_from({}).board_max_streams == 100
    assert web_access_from({"LEADSTREAM_BOARD_MAX_STREAMS": "7"}).board_max_streams == 7


def test_tokens_stay_out_of_the_settings_repr():
    config = settings_from({"LEADSTREAM_API_TOKEN": READ, "LEADSTREAM_ADMIN_TOKEN": ADMIN})
    assert config.api_token == READ and config.web.admin_token == ADMIN
    assert READ not in repr(config) and ADMIN not in repr(config)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("worker-1", False), ("localhost.evil.example", False),
])
def test_loopback_is_only_what_this_machine_alone_can_reach(host, loopback):
    assert is_loopback(host) is loopback


def test_a_worker_on_a_network_address_without_a_token_is_refused_naming_the_setting():
    with pytest.raises(ConfigError, match="^LEADSTREAM_API_TOKEN: required when LEADSTREAM_WEB_HOST"):
        refuse_open_exposure(WebAccess(), "0.0.0.0")
    assert refuse_open_exposure(WebAccess(read_token=READ), "0.0.0.0") is None
    assert refuse_open_exposure(WebAccess(), "127.0.0.1") is None  # development stays usable


def test_only_an_explicit_allow_open_lets_it_start_and_that_is_said_out_loud():
    warning = refuse_open_exposure(web_access_from({"LEADSTREAM_ALLOW_OPEN": "true"}), "0.0.0.0")
    assert warning is not None and "OPEN" in warning and "LEADSTREAM_ALLOW_OPEN" in warning
    with pytest.raises(ConfigError, match="^LEADSTREAM_ALLOW_OPEN: expected true or false"):
        web_access_from({"LEADSTREAM_ALLOW_OPEN": "sure"})


def test_scopes_read_for_reads_admin_for_erasure():
    access = WebAccess(read_token=READ, admin_token=ADMIN)
    assert refusal(access, Scope.READ, f"Bearer {READ}") is None
    assert refusal(access, Scope.READ, f"Bearer {ADMIN}") is None  # the admin token reads too
    assert refusal(access, Scope.READ, None, signed_in=True) is None  # the board's cookie
    assert refusal(access, Scope.READ, None) == (401, "missing or wrong bearer token")
    assert refusal(access, Scope.READ, f"Bearer {READ[:-1]}x")[0] == 401
    assert refusal(access, Scope.ADMIN, f"Bearer {ADMIN}") is None
    assert refusal(access, Scope.ADMIN, f"Bearer {READ}")[0] == 403
    assert refusal(access, Scope.ADMIN, None, signed_in=True)[0] == 403  # a board session never erases
    assert refusal(access, Scope.ADMIN, None)[0] == 401


def test_without_an_admin_token_erasure_is_off_unless_nothing_is_protected():
    status, reason = refusal(WebAccess(read_token=READ), Scope.ADMIN, f"Bearer {READ}")
    assert status == 403 and "LEADSTREAM_ADMIN_TOKEN" in reason
    assert refusal(WebAccess(), Scope.ADMIN, None) is None  # a development worker on loopback
    assert refusal(WebAccess(), Scope.READ, None) is None


def test_the_board_cookie_carries_its_expiry_signed_and_never_the_token():
    now = 1_800_000_000.0
    cookie = auth.cookie_value(READ, now)

    assert READ not in cookie
    assert auth.cookie_valid(READ, cookie, now + auth.COOKIE_MAX_AGE_S - 1)
    assert not auth.cookie_valid(READ, cookie, now + auth.COOKIE_MAX_AGE_S + 1)  # expired, whatever the browser
    assert not auth.cookie_valid(ADMIN, cookie, now)  # another token: signed out
    expires, _, signature = cookie.partition(".")
    assert not auth.cookie_valid(READ, f"{int(expires) + 86_400}.{signature}", now)  # a pushed expiry
    assert not auth.cookie_valid(READ, READ, now)  # the raw token is not a cookie
    assert not auth.cookie_valid(READ, None, now) and not auth.cookie_valid(READ, "x.y", now)


def test_sign_in_failures_are_throttled_per_client():
    throttle = auth.LoginThrottle(per_minute=5)
    for _ in range(5):
        assert throttle.wait_s("203.0.113.9") == 0
        throttle.failed("203.0.113.9")
    assert throttle.wait_s("203.0.113.9") > 5  # about 12 s until the next attempt
    assert throttle.wait_s("198.51.100.1") == 0  # another client is not held back


def test_a_token_bucket_refills_at_its_rate_and_says_how_long_to_wait():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("k") == 0.0
    assert retry_after(0.2) == "1" and retry_after(2.1) == "3"
    assert RateLimiter(rate=0, burst=1).take("k") == 0.0  # rate 0: no limit


def test_a_limiter_keeps_at_most_its_bound_of_clients():
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=100)
    for client in range(1000):
        limiter.take(str(client))
    assert len(limiter._buckets) == 100


def test_a_carriage_return_in_a_lead_id_cannot_add_a_server_sent_event():
    hostile = "lead-1\r\revent: hot-add\rdata: {\"row\": \"<script>\"}\r\r"
    sent = server_sent_event("lead-moved", f"<td>{hostile}</td>")

    events = browser_events(sent)
    assert [name for name, _ in events] == ["lead-moved"]
    assert "hot-add" in events[0][1]  # still there, as text inside the one event's data
    with pytest.raises(ValueError):
        server_sent_event("lead-moved\revent: x", "data")


# --- the request guards, on a small aiohttp app --------------------------------------------------

async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def guarded_client(env: dict[str, str]) -> TestClient:
    config = settings_from(env)
    app = web.Application(middlewares=[guard_middleware(lambda: config)])
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/leads", ok)
    app.router.add_post("/leads/x/feedback", ok)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_on_loopback_a_foreign_host_name_is_refused_against_dns_rebinding():
    client = await guarded_client({"LEADSTREAM_WEB_PORT": "6066"})
    try:
        assert (await client.get("/leads", headers={"Host": "127.0.0.1:6066"})).status == 200
        assert (await client.get("/leads", headers={"Host": "localhost:6066"})).status == 200
        assert (await client.get("/leads", headers={"Host": "rebound.evil.example:6066"})).status == 421
    finally:
        await client.close()
    listed = await guarded_client({"LEADSTREAM_WEB_ALLOWED_HOSTS": "leads.internal"})
    try:
        assert (await listed.get("/leads", headers={"Host": "leads.internal"})).status == 200
    finally:
        await listed.close()


async def test_on_a_network_address_any_host_is_answered_unless_a_list_is_set():
    open_client = await guarded_client({"LEADSTREAM_WEB_HOST": "0.0.0.0", "LEADSTREAM_API_TOKEN": READ})
    try:
        assert (await open_client.get("/leads", headers={"Host": "worker-1:6066"})).status == 200
    finally:
        await open_client.close()
    listed = await guarded_client({"LEADSTREAM_WEB_HOST": "0.0.0.0", "LEADSTREAM_API_TOKEN": READ,
                                   "LEADSTREAM_WEB_ALLOWED_HOSTS": "leads.example.com",
                                   "LEADSTREAM_WEB_ADVERTISED_URL": "http://worker-1:6066"})
    try:
        assert (await listed.get("/leads", headers={"Host": "leads.example.com"})).status == 200
        assert (await listed.get("/leads", headers={"Host": "worker-1:6066"})).status == 200  # its own address
        assert (await listed.get("/leads", headers={"Host": "other.example.com"})).status == 421
    finally:
        await listed.close()


@pytest.mark.parametrize(("content_type", "status"), [
    ("text/plain", 415), ("application/x-www-form-urlencoded", 415), ("multipart/form-data; boundary=x", 415),
    (None, 415), ("application/json", 200), ("application/json; charset=utf-8", 200),
])
async def test_a_post_without_a_json_content_type_is_refused(content_type, status):
    client = await guarded_client({})
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        response = await client.post("/leads/x/feedback", data=b'{"verdict": "accepted"}', headers=headers)
        assert response.status == status
    finally:
        await client.close()


async def test_every_answer_carries_the_security_headers_refusals_too():
    client = await guarded_client({})
    try:
        for response in (await client.get("/leads"), await client.get("/leads", headers={"Host": "evil.example"}),
                         await client.get("/nowhere")):
            for name, value in SECURITY_HEADERS.items():
                assert response.headers[name] == value
        assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    finally:
        await client.close()


def fake_request(headers: dict[str, str]) -> web.Request:
    return make_mocked_request("POST", "/board/login", headers={"Host": "127.0.0.1:6066", **headers})


@pytest.mark.parametrize(("headers", "allowed"), [
    ({}, True), ({"Origin": "http://127.0.0.1:6066"}, True), ({"Origin": "https://evil.example"}, False),
    ({"Origin": "null"}, False), ({"Sec-Fetch-Site": "cross-site"}, False), ({"Sec-Fetch-Site": "same-site"}, False),
    ({"Sec-Fetch-Site": "same-origin", "Origin": "null"}, True),  # Chromium's own form under no-referrer
    ({"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1:6066"}, False),
])
def test_the_sign_in_form_is_only_taken_from_the_boards_own_pages(headers, allowed):
    assert same_origin(fake_request(headers)) is allowed
