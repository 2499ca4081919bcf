"""The AWS Query protocol as the stand-in's server side: form body -> nested
parameters checked against botocore's service model, and results -> the
service's XML.

Input rules mirror botocore.serialize.QuerySerializer (the client side):
structure members by their serialized name, non-flattened lists as
Name.member.N with N counting from 1, an empty list as "Name=", maps as
Name.entry.N.key/value, booleans "true"/"false", timestamps ISO 8601.
"""

import base64
import datetime
import re
import urllib.parse
from xml.sax.saxutils import escape

import botocore.exceptions
import botocore.validate
from botocore.utils import parse_to_aware_datetime

# Debian's botocore 1.29.27; the names the SigV4 scope uses (aws.md sections
# 4 and 5) mapped to botocore's model names.
SIGNING_NAME_TO_SERVICE = {
    "monitoring": "cloudwatch",
    "autoscaling": "autoscaling",
    "elasticloadbalancing": "elbv2",
}


class QueryError(Exception):
    """An AWS error answered as ErrorResponse XML."""

    def __init__(self, code, message, status=400, error_type="Sender"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.error_type = error_type


def validation_error(message):
    return QueryError("ValidationError", message, 400)


def parse_form(body, query=""):
    """Form body (and URL query, as a GET Query request would carry) to a
    flat dict; a parameter given twice is an error as AWS reports it."""
    flat = {}
    for source in (query, body):
        if not source:
            continue
        try:
            pairs = urllib.parse.parse_qsl(source, keep_blank_values=True,
                                           strict_parsing=True, errors="strict")
        except (ValueError, UnicodeDecodeError) as e:
            raise QueryError("MalformedQueryString", "malformed form body: %s" % e)
        for key, value in pairs:
            if key in flat:
                raise QueryError("MalformedQueryString",
                                 "parameter %s appears more than once" % key)
            flat[key] = value
    return flat


# ---- flat form -> nested parameters ---------------------------------------

class _Node(dict):
    """A dotted-name tree; .value holds the text given for the node itself."""

    value = None


def _tree(flat):
    root = _Node()
    for key, value in flat.items():
        node = root
        for part in key.split("."):
            node = node.setdefault(part, _Node())
        node.value = value
    return root


def _raw(node):
    """An unmodelled subtree, kept so that validation reports it."""
    if not node:
        return node.value
    return {k: _raw(v) for k, v in node.items()}


def _indexed(node, name):
    """Children '1'..'N' of a list or map node, in order; AWS lists count
    from 1 and a gap or a 0 is malformed."""
    try:
        indexes = sorted(int(k) for k in node)
    except ValueError:
        raise validation_error("%s: list entries must be numbered 1..N, got %s"
                               % (name, sorted(node)))
    if indexes != list(range(1, len(indexes) + 1)) or any(
            k != str(int(k)) for k in node):
        raise validation_error("%s: list entries must be numbered 1..N without gaps, got %s"
                               % (name, sorted(node)))
    return [node[str(i)] for i in indexes]


def rebuild(node, shape, name):
    if shape.type_name == "structure":
        if not node and node.value is not None:
            return node.value  # text where a structure belongs: reported later
        out = {}
        by_wire = {m.serialization.get("name", n): n for n, m in shape.members.items()}
        for wire, child in node.items():
            member = by_wire.get(wire)
            if member is None:
                out[wire] = _raw(child)
            else:
                out[member] = rebuild(child, shape.members[member],
                                      "%s.%s" % (name, wire) if name else wire)
        return out
    if shape.type_name == "list":
        if not node:
            # "Name=" is how the Query serializer sends an empty list.
            return [] if node.value == "" else node.value
        flattened = shape.serialization.get("flattened")
        if flattened:
            items = node
        else:
            member_name = shape.member.serialization.get("name", "member")
            if set(node) != {member_name}:
                return _raw(node)
            items = node[member_name]
        return [rebuild(child, shape.member, "%s.%d" % (name, i + 1))
                for i, child in enumerate(_indexed(items, name))]
    if shape.type_name == "map":
        entries = node if shape.serialization.get("flattened") else node.get("entry", _Node())
        out = {}
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        for entry in _indexed(entries, name):
            if key_name not in entry:
                raise validation_error("%s: map entry without %s" % (name, key_name))
            key = rebuild(entry[key_name], shape.key, name)
            out[key] = rebuild(entry.get(value_name, _Node()), shape.value, name)
        return out
    if node:
        return _raw(node)  # children under a scalar: wrong type, reported later
    return _scalar(node.value, shape)


_INT_RE = re.compile(r"^[+-]?\d+$")


def _scalar(text, shape):
    """Query values are all text; convert as the service would and leave
    text that does not convert as it is, so validation names the field."""
    t = shape.type_name
    if text is None:
        return None
    if t in ("integer", "long"):
        return int(text) if _INT_RE.match(text) else text
    if t in ("double", "float"):
        try:
            return float(text)
        except ValueError:
            return text
    if t == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if t == "timestamp":
        try:
            return parse_to_aware_datetime(text)
        except (ValueError, TypeError):
            return text
    if t == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            return text
    return text


def parse_params(flat, operation_model):
    """Flat form -> validated nested parameters for one operation."""
    shape = operation_model.input_shape
    args = {k: v for k, v in flat.items() if k not in ("Action", "Version")}
    if shape is None:
        if args:
            raise validation_error("%s takes no parameters, got %s"
                                   % (operation_model.name, sorted(args)))
        return {}
    params = rebuild(_tree(args), shape, "")
    try:
        botocore.validate.validate_parameters(params, shape)
    except botocore.exceptions.ParamValidationError as e:
        raise validation_error(str(e.kwargs.get("report", e)).strip())
    errors = []
    _check_constraints(params, shape, "", errors)
    if errors:
        raise validation_error("%d validation error%s detected: %s" % (
            len(errors), "" if len(errors) == 1 else "s", "; ".join(errors)))
    return params


# botocore's validator checks types, required members and min/max but not
# enums or patterns, which the services do check ("1 validation error
# detected: Value 'x' at 'y' failed to satisfy constraint: ...").
_pattern_cache = {}


def _pattern(text):
    if text not in _pattern_cache:
        # The models' patterns are Java regexes; their UTF-16 surrogate range
        # is one supplementary-plane range in Python.
        py = text.replace("\\uD800\\uDC00-\\uDBFF\\uDC00-\\uDFFF", "\\U00010000-\\U0010FFFF")
        py = py.replace("\ud800\udc00-\udbff\udc00-\udfff", "\U00010000-\U0010ffff")
        try:
            _pattern_cache[text] = re.compile(py)
        except re.error:
            _pattern_cache[text] = None
    return _pattern_cache[text]


def _check_constraints(value, shape, name, errors):
    t = shape.type_name
    limit = shape.metadata.get("max")
    # botocore checks only minimums (a maximum may grow server-side); the
    # service checks both.
    if limit is not None:
        if t in ("string", "list") and isinstance(value, (str, list)) and len(value) > limit:
            errors.append("Value at '%s' failed to satisfy constraint: Member must have "
                          "length less than or equal to %d" % (name, limit))
        elif t in ("integer", "long", "double", "float") and \
                isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
            errors.append("Value '%s' at '%s' failed to satisfy constraint: Member must have "
                          "value less than or equal to %s" % (value, name, limit))
    if t == "structure" and isinstance(value, dict):
        for key, member in shape.members.items():
            if key in value:
                _check_constraints(value[key], member,
                                   "%s.%s" % (name, key) if name else key, errors)
    elif t == "list" and isinstance(value, list):
        for i, item in enumerate(value, 1):
            _check_constraints(item, shape.member, "%s.member.%d" % (name, i), errors)
    elif t == "string" and isinstance(value, str):
        enum = shape.enum
        if enum and value not in enum:
            errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                          "Member must satisfy enum value set: [%s]"
                          % (value, name, ", ".join(enum)))
        pattern = shape.metadata.get("pattern")
        if pattern:
            regex = _pattern(pattern)
            if regex is not None and not regex.fullmatch(value):
                errors.append("Value '%s' at '%s' failed to satisfy constraint: "
                              "Member must satisfy regular expression pattern: %s"
                              % (value, name, pattern))


# ---- results -> XML ---------------------------------------------------------

def _timestamp(value):
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, str):
        value = parse_to_aware_datetime(value)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000)


def _xml(value, shape, out):
    t = shape.type_name
    if t == "structure":
        for key, member in shape.members.items():
            if key in value and value[key] is not None:
                tag = member.serialization.get("name", key)
                if member.type_name == "list" and member.serialization.get("flattened"):
                    for item in value[key]:
                        out.append("<%s>" % tag)
                        _xml(item, member.member, out)
                        out.append("</%s>" % tag)
                    continue
                out.append("<%s>" % tag)
                _xml(value[key], member, out)
                out.append("</%s>" % tag)
    elif t == "list":
        tag = shape.member.serialization.get("name", "member")
        for item in value:
            out.append("<%s>" % tag)
            _xml(item, shape.member, out)
            out.append("</%s>" % tag)
    elif t == "map":
        for k, v in value.items():
            out.append("<entry><key>%s</key><value>" % escape(str(k)))
            _xml(v, shape.value, out)
            out.append("</value></entry>")
    elif t == "boolean":
        out.append("true" if value else "false")
    elif t == "timestamp":
        out.append(_timestamp(value))
    elif t == "blob":
        out.append(base64.b64encode(value).decode())
    else:
        out.append(escape(str(value)))


def response_xml(service_model, operation_model, result, request_id):
    ns = service_model.metadata["xmlNamespace"]
    op = operation_model.name
    out = ['<%sResponse xmlns="%s">' % (op, ns)]
    shape = operation_model.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", op + "Result")
        out.append("<%s>" % wrapper)
        _xml(result or {}, shape, out)
        out.append("</%s>" % wrapper)
    out.append("<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>" % request_id)
    out.append("</%sResponse>" % op)
    return ("".join(out) + "\n").encode("utf-8")


def error_xml(namespace, error, request_id):
    """ErrorResponse/Error/{Type,Code,Message} plus RequestId (aws.md 4)."""
    ns = ' xmlns="%s"' % namespace if namespace else ""
    return ("<ErrorResponse%s><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message>"
            "</Error><RequestId>%s</RequestId></ErrorResponse>\n" % (
                ns, escape(error.error_type), escape(error.code), escape(error.message),
                request_id)).encode("utf-8")


def jsonable(value):
    """Parameters as JSON for the call record (datetimes as ISO 8601)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return _timestamp(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value
