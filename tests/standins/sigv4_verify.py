"""Server-side SigV4 check with botocore as the reference signer.

The request is rebuilt as a botocore AWSRequest carrying exactly the headers
the client listed in SignedHeaders, botocore signs it at the client's
X-Amz-Date (utcnow frozen), and the two signatures must be equal.  That is
the oracle from /work/shared/oracles/README.md; the rules are aws.md
section 5.
"""

import datetime
import hashlib
import hmac
import re
import threading
import types

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from query_protocol import QueryError

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$")
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# botocore.auth reads the clock through its module attribute `datetime`;
# replacing that attribute (not the real datetime module) freezes only
# botocore's signer, under a lock because the server is threaded.
_SIGN_LOCK = threading.Lock()


class Parsed:
    """The client's Authorization header, split up."""

    def __init__(self, access_key, date, region, service, signed_headers, signature):
        self.access_key = access_key
        self.date = date
        self.region = region
        self.service = service
        self.signed_headers = signed_headers
        self.signature = signature


def parse_authorization(headers):
    """headers: an http.client.HTTPMessage.  Raises QueryError as AWS
    answers for a missing or malformed Authorization header."""
    value = headers.get("Authorization")
    if value is None:
        raise QueryError("MissingAuthenticationToken",
                         "Request is missing Authentication Token", 403)
    m = AUTH_RE.match(value.strip())
    if not m:
        raise QueryError("IncompleteSignature",
                         "Authorization header requires 'Credential', 'Signature' and "
                         "'SignedHeaders' parameters with algorithm AWS4-HMAC-SHA256. "
                         "Authorization=%s" % value, 400)
    parts = m.group("credential").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise QueryError("IncompleteSignature",
                         "Credential should be 'AKID/YYYYMMDD/region/service/aws4_request', "
                         "got '%s'" % m.group("credential"), 400)
    signed = m.group("signed").split(";")
    if signed != sorted(signed) or any(h != h.lower() for h in signed):
        raise QueryError("IncompleteSignature",
                         "SignedHeaders must be lowercase and sorted: %s" % m.group("signed"), 400)
    if "host" not in signed:
        raise QueryError("SignatureDoesNotMatch",
                         "'Host' must be a signed header", 403)
    return Parsed(parts[0], parts[1], parts[2], parts[3], signed,
                  m.group("signature").lower())


def amz_date(headers, parsed):
    """The request time from X-Amz-Date, which must be signed and agree with
    the credential scope date."""
    value = headers.get("X-Amz-Date")
    if value is None or "x-amz-date" not in parsed.signed_headers:
        raise QueryError("IncompleteSignature",
                         "Authorization header requires existence of a signed "
                         "'X-Amz-Date' header", 400)
    try:
        when = datetime.datetime.strptime(value.strip(), AMZ_DATE_FORMAT)
    except ValueError:
        raise QueryError("IncompleteSignature",
                         "X-Amz-Date must be YYYYMMDD'T'HHMMSS'Z', got '%s'" % value, 400)
    if value.strip()[:8] != parsed.date:
        raise QueryError("SignatureDoesNotMatch",
                         "Credential should be scoped to a valid date, not '%s' "
                         "(X-Amz-Date %s)" % (parsed.date, value), 403)
    return when.replace(tzinfo=datetime.timezone.utc)


def check_skew(request_time, server_now, limit_seconds=300):
    """AWS accepts a request within 5 minutes of its timestamp; the message
    text is what Query services answer (aws.md section 5)."""
    fmt = AMZ_DATE_FORMAT
    delta = (request_time - server_now).total_seconds()
    if delta < -limit_seconds:
        earliest = server_now - datetime.timedelta(seconds=limit_seconds)
        return "Signature expired: %s is now earlier than %s (%s - 5 min.)" % (
            request_time.strftime(fmt), earliest.strftime(fmt), server_now.strftime(fmt))
    if delta > limit_seconds:
        latest = server_now + datetime.timedelta(seconds=limit_seconds)
        return "Signature not yet current: %s is still later than %s (%s + 5 min.)" % (
            request_time.strftime(fmt), latest.strftime(fmt), server_now.strftime(fmt))
    return None


def _rebuild(method, path, headers, body, parsed):
    host = headers.get("Host")
    request = AWSRequest(method=method, url="http://%s%s" % (host, path), data=body)
    for name in parsed.signed_headers:
        values = headers.get_all(name)
        if not values:
            raise QueryError("SignatureDoesNotMatch",
                             "Signed header '%s' is not in the request" % name, 403)
        for value in values:
            request.headers[name] = value  # HTTPHeaders appends repeated names
    return request


def expected_signature(method, path, headers, body, parsed, secret_key, request_time):
    """What botocore computes for this request: (signature, canonical request,
    string to sign)."""
    blacklisted = [h for h in parsed.signed_headers
                   if h in botocore.auth.SIGNED_HEADERS_BLACKLIST]
    token = headers.get("X-Amz-Security-Token") \
        if "x-amz-security-token" in parsed.signed_headers else None
    credentials = Credentials(parsed.access_key, secret_key, token)
    auth = botocore.auth.SigV4Auth(credentials, parsed.service, parsed.region)
    frozen_time = request_time.replace(tzinfo=None)

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return frozen_time

    request = _rebuild(method, path, headers, body, parsed)
    with _SIGN_LOCK:
        saved = botocore.auth.datetime
        botocore.auth.datetime = types.SimpleNamespace(datetime=Frozen)
        try:
            auth.add_auth(request)
        finally:
            botocore.auth.datetime = saved
    m = AUTH_RE.match(request.headers["Authorization"])
    signature = m.group("signature")
    ours = m.group("signed").split(";")

    # The same request again, for the texts AWS quotes in its error message.
    debug = _rebuild(method, path, headers, body, parsed)
    debug.context["timestamp"] = request_time.strftime(AMZ_DATE_FORMAT)
    auth._modify_request_before_signing(debug)
    canonical = auth.canonical_request(debug)
    string_to_sign = auth.string_to_sign(debug, canonical)
    if blacklisted or ours != parsed.signed_headers:
        canonical += ("\n(botocore never signs %s; SignedHeaders differ: client %s, "
                      "botocore %s)" % (", ".join(blacklisted) or "-",
                                        ";".join(parsed.signed_headers), ";".join(ours)))
        signature = ""
    return signature, canonical, string_to_sign


def check_all_amz_headers_signed(headers, parsed):
    """Every x-amz-* header sent must be signed (aws.md section 5), as
    botocore and the SDKs always do: an unsigned X-Amz-Security-Token (or
    X-Amz-Content-SHA256, X-Amz-Target...) could be swapped in transit.  The
    error is the one AWS gives for it (S3 names it; the Query services
    refuse such a request as well).  No Query service requires
    x-amz-content-sha256 itself (only S3 does)."""
    sent = sorted({name.lower() for name in headers.keys()
                   if name.lower().startswith("x-amz-")})
    unsigned = [name for name in sent if name not in parsed.signed_headers]
    if unsigned:
        raise QueryError("AccessDenied",
                         "There were headers present in the request which were not signed "
                         "(HeadersNotSigned: %s)" % ", ".join(unsigned), 403)


def verify(method, path, headers, body, parsed, secret_key, request_time):
    """Raise QueryError SignatureDoesNotMatch unless the signature is right."""
    content_sha = headers.get("X-Amz-Content-SHA256")
    if content_sha is not None and content_sha.strip() != hashlib.sha256(body).hexdigest():
        raise QueryError("SignatureDoesNotMatch",
                         "The provided 'x-amz-content-sha256' header does not match "
                         "what was computed.", 403)
    signature, canonical, string_to_sign = expected_signature(
        method, path, headers, body, parsed, secret_key, request_time)
    if not signature or not hmac.compare_digest(signature, parsed.signature):
        raise QueryError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you "
            "provided. Check your AWS Secret Access Key and signing method. Consult "
            "the service documentation for details.\n\nThe Canonical String for this "
            "request should have been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n"
            % (canonical, string_to_sign), 403)
