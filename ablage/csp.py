"""Content-Security-Policy: scripts and styles only from our own static files.

No 'unsafe-inline' and no 'unsafe-eval' for scripts anywhere: even if some user-controlled text
(an OCR result, a filename) slipped through escaping, the browser would not run it. Pages set
element positions through the CSSOM from JavaScript instead of inline ``style`` attributes.
The Django admin is the one place whose own templates carry inline style attributes, so only
under its prefix are inline *styles* tolerated; the API's Swagger UI loads its bundle from the
CDN drf-spectacular points to (``SWAGGER_UI_DIST``), so only that page may.
"""

BASE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    # 'self' covers same-origin ws:/wss: for the live-update websocket (CSP Level 3).
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
ADMIN_PREFIX = "/admin/"
API_DOCS_PREFIX = "/api/v1/docs/"
SWAGGER_CDN = "https://cdn.jsdelivr.net"


def _header(policy: dict) -> str:
    return "; ".join(f"{directive} {value}" for directive, value in policy.items())


DEFAULT_HEADER = _header(BASE_POLICY)
ADMIN_HEADER = _header({**BASE_POLICY, "style-src": "'self' 'unsafe-inline'"})
API_DOCS_HEADER = _header(
    {
        **BASE_POLICY,
        "script-src": f"'self' {SWAGGER_CDN}",
        "style-src": f"'self' {SWAGGER_CDN}",
        "img-src": f"'self' data: {SWAGGER_CDN}",
    }
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            if request.path.startswith(ADMIN_PREFIX):
                header = ADMIN_HEADER
            elif request.path.startswith(API_DOCS_PREFIX):
                header = API_DOCS_HEADER
            else:
                header = DEFAULT_HEADER
            response["Content-Security-Policy"] = header
        return response
