"""The Flask app factory: settings, store, map service and blueprints in one place."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta

from flask import Flask, abort, g, jsonify, request, send_from_directory
from shapely.errors import GEOSException
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from mapserver.config import (
    STATIC_DIR,
    TEMPLATES_DIR,
    Settings,
    load_settings,
    secret_key_for,
)
from mapserver.config import leaflet_dir as config_leaflet_dir
from mapserver.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from mapserver.io import safety
from mapserver.model import DISTRICT_TZ
from mapserver.services.accounts import Accounts
from mapserver.services.auditlog import AuditLog
from mapserver.services.checkpoints import CheckpointService
from mapserver.services.delivery import DeliveryService
from mapserver.services.jobs import JobQueueFull, JobRunner
from mapserver.services.mappings import ImportRecords
from mapserver.services.mapview import MapView
from mapserver.services.patrol import PatrolService
from mapserver.services.planner import PlannerService
from mapserver.services.routeplans import RoutePlans
from mapserver.services.users import UserAdmin
from mapserver.store import audit, open_store
from mapserver.web import i18n
from mapserver.web.headers import security_headers
from mapserver.web.jsonout import StrictJSONProvider


def _request_actor() -> str | None:
    """The user this request has authenticated as so far (no store read), or None."""
    user = g.get("_user")
    return None if user is None else user.username


def create_app(settings: Settings | dict | None = None) -> Flask:
    """Build the web app.

    Parameters
    ----------
    settings
        A :class:`Settings`, a dict of overrides for :func:`load_settings`, or None
        for the environment's settings.
    """
    if settings is None:
        settings = load_settings()
    elif isinstance(settings, dict):
        settings = load_settings(**settings)
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
        static_url_path="/static",
    )
    app.config["SECRET_KEY"] = secret_key_for(settings)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.cookie_secure
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_hours)
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False  # the cookie ends when the session does
    app.config["SETTINGS"] = settings
    app.config["JSON_AS_ASCII"] = False
    app.config["MAX_CONTENT_LENGTH"] = int(settings.max_request_mb * 1024 * 1024)
    safety.configure(
        safety.ReadLimits(
            max_rows=settings.max_upload_rows,
            max_expanded_bytes=int(settings.max_expanded_mb * 1024 * 1024),
        )
    )
    if settings.trusted_proxies:  # the client's own address and scheme, as the proxy saw them
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.json = StrictJSONProvider(app)  # no NaN/Infinity ever reaches a browser
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    store = open_store(
        settings.database_url, pool_size=settings.db_pool, read_url=settings.database_read_url
    )
    app.extensions["store"] = store
    app.extensions["clock"] = lambda: datetime.now(UTC)  # sessions, tokens, lockout
    app.extensions["mapview"] = MapView(
        store,
        settings.scheme,
        colour_rule=settings.colour_rule,
        share_threshold=settings.share_threshold,
    )

    app.extensions["jobs"] = JobRunner(store, max_queue=settings.job_queue)
    app.extensions["checkpoints"] = CheckpointService(store)
    app.extensions["delivery"] = DeliveryService(store, max_stops=settings.max_stops)
    app.extensions["patrol"] = PatrolService(store)
    app.extensions["planner"] = PlannerService(store)
    app.extensions["accounts"] = Accounts(store)
    app.extensions["routeplans"] = RoutePlans(store)
    app.extensions["users"] = UserAdmin(store)
    app.extensions["auditlog"] = AuditLog(store)
    app.extensions["imports"] = ImportRecords(store)

    from mapserver.web.api import bp as api_bp
    from mapserver.web.audit import bp as audit_bp
    from mapserver.web.auth import bp as auth_bp
    from mapserver.web.cordon import bp as cordon_bp
    from mapserver.web.events import bp as events_bp
    from mapserver.web.exports import bp as exports_bp
    from mapserver.web.imports import bp as imports_bp
    from mapserver.web.pages import bp as pages_bp
    from mapserver.web.planner import bp as planner_bp
    from mapserver.web.routes import bp as routes_bp
    from mapserver.web.status import bp as status_bp
    from mapserver.web.users import bp as users_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(status_bp)
    app.register_blueprint(cordon_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(routes_bp)
    app.register_blueprint(planner_bp)
    app.register_blueprint(events_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(users_bp)

    from mapserver.web import access as web_access

    web_access.install(app)
    app.register_blueprint(audit_bp)

    leaflet_dir = config_leaflet_dir()

    @app.get("/vendor/leaflet/<path:name>")
    def leaflet_file(name: str):
        """Leaflet, served from the xstatic-leaflet package installed with the project."""
        if not (leaflet_dir / name).is_file():
            abort(404)
        return send_from_directory(leaflet_dir, name, max_age=86400)

    @app.before_request
    def _language() -> None:
        lang = request.args.get("lang") or request.cookies.get("lang")
        g.lang = i18n.pick_language(lang, settings.language)
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def _security_headers(response):
        for name, value in security_headers(g.get("csp_nonce")).items():
            response.headers.setdefault(name, value)
        return response

    @app.before_request
    def _size_limit() -> None:
        """Refuse a declared body over the limit at once, whether or not a view reads it."""
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge()

    @app.before_request
    def _audit_context() -> None:
        """Audit rows written during this request name its client address and user."""
        audit.bind(audit.AuditContext(address=request.remote_addr, actor=_request_actor))

    @app.teardown_request
    def _audit_done(_err: BaseException | None) -> None:
        audit.clear()

    @app.template_filter("local_time")
    def _local_time(text: str | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
        """A stored UTC time as the district's clock shows it."""
        if not text:
            return ""
        return datetime.fromisoformat(text).astimezone(DISTRICT_TZ).strftime(pattern)

    @app.context_processor
    def _page_context() -> dict:
        from mapserver.services.access import menu as access_menu
        from mapserver.web.auth import csrf_token, current_user

        lang = g.get("lang", settings.language)
        return {
            "lang": lang,
            "t": lambda key: i18n.translate(key, lang),
            "user": current_user(),
            "csrf": csrf_token(),
            "basemap": settings.basemap,
            "menu": access_menu(current_user()),
            "csp_nonce": g.get("csp_nonce", ""),
        }

    @app.errorhandler(ValidationError)
    def _validation(err: ValidationError):
        return (
            jsonify(
                code=err.code,
                message=str(err),
                issues=[i.to_dict() for i in err.issues],
            ),
            400,
        )

    @app.errorhandler(ConflictError)
    def _conflict(err: ConflictError):
        return jsonify(code=err.code, message=str(err)), 409

    @app.errorhandler(NotFoundError)
    def _not_found(err: NotFoundError):
        return jsonify(code=err.code, message=str(err)), 404

    @app.errorhandler(ForbiddenError)
    def _forbidden(err: ForbiddenError):
        if not request.path.startswith("/api/"):
            abort(403, description=str(err))
        return jsonify(code=err.code, message=str(err)), 403

    @app.errorhandler(TypeError)
    @app.errorhandler(ValueError)
    @app.errorhandler(GEOSException)
    def _malformed(err: Exception):
        """A value the core could not use (a shape it cannot read, a number it cannot
        take): a 400 naming it. KeyError and AttributeError are bugs, never a 400."""
        if not request.path.startswith("/api/"):
            raise err
        app.logger.warning("malformed request %s: %r", request.path, err)
        return jsonify(code="bad_request", message=f"malformed request: {err}"), 400

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(err: RequestEntityTooLarge):
        """A body over ``max_request_mb``: a JSON 413 saying the limit."""
        limit = settings.max_request_mb
        message = i18n.translate("request_too_large", g.get("lang", settings.language))
        return (
            jsonify(code="request_too_large", message=message.format(mb=f"{limit:g}")),
            413,
        )

    @app.errorhandler(OperationalError)
    def _database_busy(err: OperationalError):
        """The database locked or out of reach for longer than the busy timeout: a 503
        that says nothing was saved (the transaction rolled back), not a 500."""
        app.logger.warning("database unavailable for %s: %s", request.path, err.orig)
        message = i18n.translate("database_busy", g.get("lang", settings.language))
        return jsonify(code="database_busy", message=message), 503, {"Retry-After": "2"}

    @app.errorhandler(JobQueueFull)
    def _busy(err: JobQueueFull):
        """One running job per user and a bounded queue: 429 with the reason."""
        message = i18n.translate(err.key, g.get("lang", settings.language))
        return jsonify(code=err.code, message=message.format(**err.values)), 429

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if request.path.startswith("/api/"):
            return jsonify(code=err.name.lower().replace(" ", "_"), message=err.description), (
                err.code or 500
            )
        return err

    return app


WARM_WAIT_S = 60.0  # longest a server process waits for its warm caches before serving


def create_served_app(
    settings: Settings | dict | None = None, *, warm_wait_s: float = WARM_WAIT_S
) -> Flask:
    """The app as a server process runs it: :func:`create_app`, then the map caches warmed
    (the feature text of every grid, building, road and checkpoint, the status tables)
    before it returns, so a worker takes connections only once it can answer them from
    its caches (at a start, 200 maps opening at once queued behind cold caches for
    seconds). A warm-up longer than ``warm_wait_s`` goes on in the background."""
    app = create_app(settings)

    def warm() -> None:
        from mapserver.web.api import warm_map_caches

        try:
            with app.app_context():
                warm_map_caches()
        except Exception:  # a cold cache is slower, never wrong
            app.logger.exception("warming the map caches failed")

    warming = threading.Thread(target=warm, name="mapserver-warm", daemon=True)
    warming.start()
    warming.join(warm_wait_s)
    return app
