"""The inbox web application (Sanic 21.12, Rasa's own; Jinja2 templates in Dutch).

Pages (session cookie, CSRF token in every form):

==========================================  =========================================
``GET /login``, ``POST /login``             log in (throttled: 429 after 5 failures)
``POST /logout``                            log out
``GET /``                                   list; filters ``status`` (``open``, ``new``,
                                            ``in_progress``, ``contacted``, ``closed``),
                                            ``urgency``, ``language``, ``topic``,
                                            ``assignee`` (staff key, ``-`` = nobody)
``GET /referrals/<reference>``              detail: summary, own words, voice notes,
                                            transcript, notes, assignment, status
``POST /referrals/<reference>/status``      form ``status``, ``reason``
``POST /referrals/<reference>/notes``       form ``text``
``POST /referrals/<reference>/assign``      form ``staff_key``
``GET /notifications``                      "Meldingen die niet aankwamen": outbox rows
                                            of the visible referrals that failed or
                                            are being retried
``POST /notifications/<id>/retry``          "nu opnieuw proberen": due now
==========================================  =========================================

JSON API (``Authorization: Bearer <token>``, ``wegwijs users token``; no cookies):
``GET /api/referrals`` (same filters), ``GET /api/referrals/<reference>``,
``PATCH`` or ``POST /api/referrals/<reference>`` with ``{"status": ..., "reason": ...}``,
``POST /api/referrals/<reference>/notes`` with ``{"text": ...}``. Errors are
``{"error": "<Dutch message>"}`` with 400, 401, 403, 404, 409, 413 or 429.

Cookies are ``HttpOnly; Secure; SameSite=Strict``. Browsers accept ``Secure``
cookies over plain http only from localhost / 127.0.0.1 (Chromium and Firefox treat
those as secure origins), so anywhere else the inbox must be served over HTTPS
(behind a TLS proxy). Every answer carries a Content-Security-Policy without inline
script, ``X-Frame-Options: DENY``, ``nosniff``, ``no-referrer`` and ``no-store``.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from functools import wraps
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from jinja2 import Environment, FileSystemLoader
from pydantic import ValidationError
from sanic import Sanic, response
from sanic.exceptions import NotFound, PayloadTooLarge, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from wegwijs.inbox import auth, service
from wegwijs.inbox.service import STATUS_LABELS_NL, URGENCY_LABELS_NL
from wegwijs.inbox.transcript import TranscriptUnavailable, direction, load_transcript
from wegwijs.referrals.service import ReferralNotFound
from wegwijs.settings import Settings

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "wegwijs_session"
LOGIN_CSRF_COOKIE = "wegwijs_login_csrf"
#: Largest request body accepted (bytes); larger ones get 413.
MAX_BODY = 64 * 1024
DEFAULT_PORT = 5010

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

FILTER_KEYS = ("status", "urgency", "language", "topic", "assignee")


def _set_cookie(resp: HTTPResponse, name: str, value: str, *, path: str = "/", max_age: int | None = None) -> None:
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["path"] = path
    cookie["httponly"] = True
    cookie["secure"] = True
    cookie["samesite"] = "Strict"
    if max_age is not None:
        cookie["max-age"] = max_age


def _validation_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "__root__")
        parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return "ongeldige invoer — " + "; ".join(parts)


def create_app(settings: Settings | None = None, *, name: str = "wegwijs_inbox") -> Sanic:
    """Build the inbox application on ``settings`` (default: from the environment).

    The database must be migrated (``wegwijs build`` or ``python -m wegwijs.db.migrate``).
    """
    from wegwijs import bootstrap

    settings = settings or Settings.from_env()
    session_factory = bootstrap.get_session_factory(settings)
    languages_dir = Path(settings.languages_dir)
    tracker_url = settings.tracker_db_url
    from wegwijs.referrals.summary import load_dutch_names

    dutch_names = load_dutch_names(languages_dir)
    templates = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True)
    templates.globals.update(STATUS_LABELS_NL=STATUS_LABELS_NL, URGENCY_LABELS_NL=URGENCY_LABELS_NL)

    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = MAX_BODY
    app.config.FORWARDED_SECRET = None
    app.static("/static", str(HERE / "static"), name="static")

    def render(template: str, status: int = 200, **context: Any) -> HTTPResponse:
        user = context.get("user")
        if isinstance(user, auth.Principal) and "failing_count" not in context:
            try:  # the navigation's badge; a page still renders without it
                context["failing_count"] = service.count_failing_notifications(session_factory, user)
            except SQLAlchemyError:
                logger.exception("inbox.failing_count_unavailable")
        return response.html(templates.get_template(template).render(**context), status=status)

    def page_error(status: int, message: str, principal: auth.Principal | None = None) -> HTTPResponse:
        return render("error.html", status=status, message=message, user=principal)

    def json_error(status: int, message: str) -> HTTPResponse:
        return response.json({"error": message}, status=status)

    def tracker_engine() -> Any:
        from sqlalchemy.engine import make_url

        parsed = make_url(tracker_url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or not Path(database).is_file():
                return None  # no conversation stored yet: do not create the file
        return bootstrap.make_engine(tracker_url)

    # -- middleware -------------------------------------------------------------------

    @app.middleware("response")
    async def security_headers(request: Request, resp: HTTPResponse) -> None:
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)

    @app.exception(NotFound)
    async def not_found(request: Request, exception: Exception) -> HTTPResponse:
        if request.path.startswith("/api/"):
            return json_error(404, "niet gevonden")
        return page_error(404, "Deze pagina bestaat niet.")

    @app.exception(PayloadTooLarge)
    async def too_large(request: Request, exception: Exception) -> HTTPResponse:
        return json_error(413, f"verzoek te groot (hoogstens {MAX_BODY} bytes)")

    def with_session(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
        """Pages: a valid session or a redirect to /login; POSTs must carry its CSRF token."""

        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            active = auth.session_for_token(session_factory, request.cookies.get(SESSION_COOKIE, ""))
            if active is None:
                return response.redirect("/login", status=303)
            if request.method == "POST" and not auth.same_token(request.form.get("csrf"), active.csrf_token):
                return page_error(403, "Het formulier is verlopen of niet van deze site. Laad de pagina opnieuw.",
                                  active.principal)
            try:
                return await handler(request, active, *args, **kwargs)
            except ReferralNotFound:
                return page_error(404, "Deze aanmelding bestaat niet (of niet voor u).", active.principal)
            except ValidationError as error:
                return page_error(400, _validation_message(error), active.principal)
            except service.Forbidden as error:
                return page_error(403, str(error), active.principal)
            except service.InboxError as error:
                return page_error(409, str(error), active.principal)

        return wrapper

    def with_token(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
        """API: a valid bearer token or 401 (JSON errors)."""

        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            principal = (auth.principal_for_api_token(session_factory, token.strip())
                         if scheme.lower() == "bearer" else None)
            if principal is None:
                resp = json_error(401, "inloggen nodig: Authorization: Bearer <token>")
                resp.headers["WWW-Authenticate"] = 'Bearer realm="wegwijs-inbox"'
                return resp
            try:
                return await handler(request, principal, *args, **kwargs)
            except ReferralNotFound:
                return json_error(404, "niet gevonden")
            except ValidationError as error:
                return json_error(400, _validation_message(error))
            except service.Forbidden as error:
                return json_error(403, str(error))
            except service.InboxError as error:
                return json_error(409, str(error))

        return wrapper

    # -- login ------------------------------------------------------------------------

    def login_page(status: int = 200, error: str | None = None, username: str = "") -> HTTPResponse:
        csrf = secrets.token_urlsafe(32)
        resp = render("login.html", status=status, csrf=csrf, error=error, username=username, user=None)
        _set_cookie(resp, LOGIN_CSRF_COOKIE, csrf, path="/login", max_age=1800)
        return resp

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return response.text("ok")

    @app.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        if auth.session_for_token(session_factory, request.cookies.get(SESSION_COOKIE, "")):
            return response.redirect("/", status=303)
        return login_page()

    @app.post("/login")
    async def login_submit(request: Request) -> HTTPResponse:
        form = request.form
        if not auth.same_token(form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return login_page(400, "Het formulier is verlopen. Probeer het opnieuw.")
        username = (form.get("username") or "")[:100]
        password = (form.get("password") or "")[:1024]
        try:
            new = auth.login(session_factory, username, password, address=request.ip or "unknown")
        except auth.LoginThrottled:
            return login_page(429, "Te veel mislukte pogingen. Wacht een kwartier en probeer het dan opnieuw.",
                              username)
        except auth.LoginFailed:
            return login_page(401, "Gebruikersnaam of wachtwoord klopt niet.", username)
        service.log_event(session_factory, new.principal, "login")
        resp = response.redirect("/", status=303)
        _set_cookie(resp, SESSION_COOKIE, new.token, max_age=int(auth.SESSION_MAX.total_seconds()))
        _set_cookie(resp, LOGIN_CSRF_COOKIE, "", path="/login", max_age=0)
        return resp

    @app.post("/logout")
    @with_session
    async def logout(request: Request, active: auth.ActiveSession) -> HTTPResponse:
        auth.logout(session_factory, request.cookies.get(SESSION_COOKIE, ""))
        service.log_event(session_factory, active.principal, "logout")
        resp = response.redirect("/login", status=303)
        _set_cookie(resp, SESSION_COOKIE, "", max_age=0)
        return resp

    # -- pages ------------------------------------------------------------------------

    def filters_from(request: Request, default_status: str | None) -> service.ListFilters:
        args = request.get_args(keep_blank_values=True)  # "?status=" means all, not the default
        values = {key: args.get(key) for key in FILTER_KEYS if args.get(key) is not None}
        if "status" not in values and default_status:
            values["status"] = default_status
        return service.ListFilters(**values)

    @app.get("/")
    @with_session
    async def index(request: Request, active: auth.ActiveSession) -> HTTPResponse:
        filters = filters_from(request, "open")
        rows = service.list_for(session_factory, active.principal, filters)
        return render("list.html", user=active.principal, csrf=active.csrf_token, rows=rows,
                      filters=filters, language_name=dutch_names.language,
                      languages=sorted(dutch_names.languages), topics=dict(dutch_names.topics))

    @app.get("/referrals/<reference:str>")
    @with_session
    async def detail(request: Request, active: auth.ActiveSession, reference: str) -> HTTPResponse:
        view = service.get_for(session_factory, active.principal, reference)
        referral = view.referral
        transcript, transcript_error = [], None
        engine = tracker_engine()
        if engine is not None:
            try:
                transcript = load_transcript(
                    engine, referral.conversation_id, conversation_language=referral.language,
                    languages_dir=languages_dir,
                )
            except TranscriptUnavailable:
                transcript_error = "Het gesprek kan nu niet worden gelezen."
            finally:
                engine.dispose()
        return render(
            "detail.html", user=active.principal, csrf=active.csrf_token, view=view, r=referral,
            transcript=transcript, transcript_error=transcript_error, language_name=dutch_names.language,
            concern=[{"text": c.text, "lang": c.lang, "dir": direction(c.lang, languages_dir)}
                     for c in referral.concern_text],
            may_assign=active.principal.role in ("klantmanager", "admin"),
        )

    @app.post("/referrals/<reference:str>/status")
    @with_session
    async def status_submit(request: Request, active: auth.ActiveSession, reference: str) -> HTTPResponse:
        change = service.StatusChange(status=request.form.get("status") or "",
                                      reason=request.form.get("reason") or None)
        view = service.change_status(session_factory, active.principal, reference, change)
        return response.redirect(f"/referrals/{view.referral.reference}", status=303)

    @app.post("/referrals/<reference:str>/notes")
    @with_session
    async def note_submit(request: Request, active: auth.ActiveSession, reference: str) -> HTTPResponse:
        service.add_note(session_factory, active.principal, reference,
                         service.NoteIn(text=request.form.get("text") or ""))
        return response.redirect(f"/referrals/{reference.upper()}", status=303)

    @app.post("/referrals/<reference:str>/assign")
    @with_session
    async def assign_submit(request: Request, active: auth.ActiveSession, reference: str) -> HTTPResponse:
        service.assign(session_factory, active.principal, reference,
                       service.AssignIn(staff_key=request.form.get("staff_key") or ""))
        return response.redirect(f"/referrals/{reference.upper()}", status=303)

    @app.get("/notifications")
    @with_session
    async def notifications(request: Request, active: auth.ActiveSession) -> HTTPResponse:
        rows = service.failing_notifications_for(session_factory, active.principal)
        return render("notifications.html", user=active.principal, csrf=active.csrf_token, rows=rows)

    @app.post("/notifications/<message_id:int>/retry")
    @with_session
    async def notification_retry(request: Request, active: auth.ActiveSession, message_id: int) -> HTTPResponse:
        try:
            service.retry_notification(session_factory, active.principal, message_id)
        except service.NotificationNotFound:
            return page_error(404, "Deze melding bestaat niet (of niet voor u).", active.principal)
        return response.redirect("/notifications", status=303)

    # -- JSON API ---------------------------------------------------------------------

    def json_body(request: Request) -> dict:
        try:
            body = request.json
        except SanicException:
            body = None
        if not isinstance(body, dict):
            raise service.InboxError("verwacht een JSON-object")
        return body

    @app.get("/api/referrals")
    @with_token
    async def api_list(request: Request, principal: auth.Principal) -> HTTPResponse:
        rows = service.list_for(session_factory, principal, filters_from(request, None), channel="api")
        return response.json({"referrals": [
            {**row.referral.to_json_dict(), "status_label_nl": row.status_label_nl, "age_nl": row.age_nl,
             "assignee_key": row.assignee_key, "assignee_name": row.assignee_name}
            for row in rows
        ]})

    @app.get("/api/referrals/<reference:str>")
    @with_token
    async def api_detail(request: Request, principal: auth.Principal, reference: str) -> HTTPResponse:
        return response.json(service.get_for(session_factory, principal, reference, channel="api").to_json_dict())

    @app.route("/api/referrals/<reference:str>", methods=["PATCH", "POST"])
    @with_token
    async def api_status(request: Request, principal: auth.Principal, reference: str) -> HTTPResponse:
        try:
            body = json_body(request)
        except service.InboxError as error:
            return json_error(400, str(error))
        view = service.change_status(session_factory, principal, reference, service.StatusChange(**body),
                                     channel="api")
        return response.json(view.to_json_dict())

    @app.post("/api/referrals/<reference:str>/notes")
    @with_token
    async def api_note(request: Request, principal: auth.Principal, reference: str) -> HTTPResponse:
        try:
            body = json_body(request)
        except service.InboxError as error:
            return json_error(400, str(error))
        service.add_note(session_factory, principal, reference, service.NoteIn(**body), channel="api")
        return response.json({"ok": True}, status=201)

    return app


def inbox_port(environ: dict | None = None) -> int:
    """The inbox port: ``WEGWIJS_INBOX_PORT`` or :data:`DEFAULT_PORT` (5010)."""
    import os

    value = (environ if environ is not None else os.environ).get("WEGWIJS_INBOX_PORT", "").strip()
    return int(value) if value else DEFAULT_PORT


def run(host: str = "127.0.0.1", port: int | None = None, settings: Settings | None = None) -> None:
    """Serve the inbox in this process until stopped (one worker)."""
    app = create_app(settings)
    app.run(host=host, port=port or inbox_port(), workers=1, access_log=False, motd=False)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wegwijs.inbox [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(prog="wegwijs inbox", description="Serve the Wegwijs inbox.")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default: $WEGWIJS_INBOX_PORT or {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    run(host=args.host, port=args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
