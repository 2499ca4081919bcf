"""Every configuration key is documented once, in its man page.

asg-agent.json(5) is the one reference for the keys of health.json and
agent.json (README.md and docs/ describe and link to it).  Its entries are
tagged paragraphs: `.TP`, then a tag line `.B key` or
`.BR key " (type, default " value ")"` (or `.BR a ", " b ...` for two keys
sharing an entry).  This checks, against the key lists of the parsers:

- each key of health/config.c's `keys` has exactly one entry, in HEALTH.JSON;
  each of agent/config.c's `top_keys` exactly one in AGENT.JSON, and each of
  its `lifecycle_keys` exactly one under "The lifecycle object";
- no key has an entry anywhere else (another section, asg-health(8),
  asg-agent(8)), and no entry in those sections names a key the parsers do
  not accept (documentation of a removed key);
- the check types of health/checks-config.c each have one entry under
  "Health checks", their common keys are named in that subsection's opening
  paragraph and each type's own keys in its entry;
- the keys of nested objects (cache_control rules, endpoint_urls, hooks) are
  named in their parent key's entry;
- README.md and docs/*.md hold no key reference table (a second definition).

Usage: man-keys.py TOP_SRCDIR; prints one FAIL line per problem, exits 1 if any.
"""
import glob
import os
import re
import sys

top = sys.argv[1]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def read(rel):
    with open(os.path.join(top, rel), encoding="utf-8") as f:
        return f.read()


def c_array(rel, name):
    """The string literals of `static const char *const NAME[] = { ... };`."""
    m = re.search(r"\b%s\[\]\s*=\s*\{(.*?)\};" % re.escape(name), read(rel), re.S)
    if not m:
        fail("%s: no key list %s[]" % (rel, name))
        return []
    return re.findall(r'"([a-z_0-9]+)"', m.group(1))


def macro_args(line):
    """The arguments of a man macro line: quoted strings or words."""
    return [a[1:-1] if a.startswith('"') else a
            for a in re.findall(r'"[^"]*"|\S+', line.split(None, 1)[1] if " " in line else "")]


def tag_keys(tag):
    """The key names an entry's tag line defines."""
    if tag.startswith(".B "):
        words = macro_args(tag)
    elif tag.startswith(".BR "):
        args = macro_args(tag)
        words = []
        for i, a in enumerate(args):
            if i % 2 == 1 and "(" in a:
                break  # the "(type, default ...)" part: values, not names
            if i % 2 == 0:
                words.append(a)
    else:
        return []  # .I paths, .BI flags
    return [w for w in words if re.fullmatch(r"[a-z_][a-z_0-9]*", w)]


def parse(rel):
    """Entries as (section, subsection, keys, body), and each
    subsection's text before its first entry."""
    entries, intros = [], {}
    section = subsection = None
    lines = read(rel).split("\n")
    i = 0
    current = None
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SH "):
            section, subsection, current = line[4:].strip('"'), None, None
            intros[(section, None)] = []
        elif line.startswith(".SS "):
            subsection, current = line[4:].strip('"'), None
            intros[(section, subsection)] = []
        elif line == ".TP" and i + 1 < len(lines):
            current = [section, subsection, tag_keys(lines[i + 1]), []]
            entries.append(current)
            i += 1
        elif line.startswith((".PP", ".LP", ".P ")) or line == ".P":
            current = None
            intros.setdefault((section, subsection), []).append(line)
        elif current is not None:
            current[3].append(line)
        else:
            intros.setdefault((section, subsection), []).append(line)
        i += 1
    return entries, intros


def named(text_lines, word):
    """`word` appears as a word (bold, roman or quoted) in the lines."""
    pat = re.compile(r"(?<![a-z_0-9])%s(?![a-z_0-9])" % re.escape(word))
    return any(pat.search(l.replace("\\(dq", '"')) for l in text_lines)


def bold(text_lines, word):
    """`word` is set in bold (.B word / .BR word ... / .RB ( word ...)."""
    for l in text_lines:
        if l.startswith(".B ") and word in macro_args(l):
            return True
        if l.startswith(".BR ") and word in macro_args(l)[0::2]:
            return True
        if l.startswith(".RB ") and word in macro_args(l)[1::2]:
            return True
    return False


man5 = "man/asg-agent.json.5"
entries, intros = parse(man5)
other_pages = {}
for page in ("man/asg-health.8", "man/asg-agent.8"):
    other_pages[page] = parse(page)[0]

# health/config.c has two arrays named keys: the cache_control rule keys
# (one line, inside a function) and the top-level list; take the longer.
src = read("health/config.c")
lists = [re.findall(r'"([a-z_0-9]+)"', m) for m in
         re.findall(r"\bkeys\[\]\s*=\s*\{(.*?)\};", src, re.S)]
if len(lists) < 2:
    fail("health/config.c: expected the top-level and cache_control key lists")
else:
    lists.sort(key=len)
    rule_keys, health_keys = lists[0], lists[-1]
top_keys = c_array("agent/config.c", "top_keys")
lifecycle_keys = c_array("agent/config.c", "lifecycle_keys")
hook_keys = c_array("agent/config.c", "hook_keys")
endpoint_keys = c_array("agent/config.c", "endpoint_keys")

HEALTH, AGENT, LIFECYCLE = ("HEALTH.JSON", None), ("AGENT.JSON", None), (
    "AGENT.JSON", "The lifecycle object")
# A key may be in two parsers' lists (metrics_listen is a key of both
# health.json and agent.json): it then has one entry in each section.
expected = {}  # key -> [place]
for keys, place in ((health_keys, HEALTH), (top_keys, AGENT), (lifecycle_keys, LIFECYCLE)):
    if not keys:
        fail("no keys found for %s" % (place,))
    for k in keys:
        if place in expected.get(k, []):
            fail("key %s is twice in the list of %s" % (k, place))
        expected.setdefault(k, []).append(place)

definitions = {}  # key -> [(page, section, subsection)]
for page, ents in [(man5, entries)] + list(other_pages.items()):
    for section, subsection, keys, _ in ents:
        for k in keys:
            definitions.setdefault(k, []).append((page, section, subsection))

for k, places in expected.items():
    defs = definitions.get(k, [])
    for place in places:
        here = [d for d in defs if d == (man5,) + place]
        where = "%s%s" % (place[0], " / " + place[1] if place[1] else "")
        if len(here) != 1:
            fail("asg-agent.json(5) has %d entries for \"%s\" in %s, not exactly one"
                 % (len(here), k, where))
    for d in defs:
        if d[1:] not in places:
            fail("\"%s\" (a key of %s) is defined again in %s, section %s%s"
                 % (k, ", ".join(p[0] for p in places), d[0], d[1],
                    " / " + d[2] if d[2] else ""))

# Entries in the key sections name only keys the parsers accept.
for section, subsection, keys, _ in entries:
    if (section, subsection) in (HEALTH, AGENT, LIFECYCLE):
        for k in keys:
            if (section, subsection) not in expected.get(k, []):
                fail("asg-agent.json(5), %s: an entry for \"%s\", which the parser "
                     "of that section does not accept" % (section, k))

# Health checks: one entry per type, common keys in the opening paragraph,
# each type's own keys in its entry.
cc = read("health/checks-config.c")
m = re.search(r"#define COMMON_KEYS (.*)", cc)
common = re.findall(r'"([a-z_]+)"', m.group(1)) if m else []
types = re.findall(r'\{\s*"([a-z]+)",\s*CHECK_[A-Z]+,\s*\(const char \*const\[\]\)\{\s*'
                   r'COMMON_KEYS,([^}]*)\}', cc)
if not common or not types:
    fail("health/checks-config.c: no COMMON_KEYS or check type table found")
checks = ("HEALTH.JSON", "Health checks")
intro = intros.get(checks)
if intro is None:
    fail("asg-agent.json(5) has no \"Health checks\" subsection")
    intro = []
for k in common:
    if not bold(intro, k):
        fail("asg-agent.json(5), Health checks: common check key \"%s\" not named "
             "in the opening paragraph" % k)
check_entries = [e for e in entries if (e[0], e[1]) == checks]
for name, rest in types:
    own = re.findall(r'"([a-z_]+)"', rest)
    ents = [e for e in check_entries if e[2] == [name]]
    if len(ents) != 1:
        fail("asg-agent.json(5), Health checks: %d entries for type \"%s\", not one"
             % (len(ents), name))
        continue
    for k in own:
        if not bold(ents[0][3], k):
            fail("asg-agent.json(5), Health checks: key \"%s\" of type %s not named "
                 "in its entry" % (k, name))
known_types = {n for n, _ in types}
for e in check_entries:
    if not e[2] or e[2][0] not in known_types:
        fail("asg-agent.json(5), Health checks: an entry for %r, not a check type" % e[2])

# Nested objects: their keys are named in the parent key's entry.
def entry_of(key, place):
    for section, subsection, keys, body in entries:
        if (section, subsection) == place and key in keys:
            return body
    return None


for parent, place, keys in (("cache_control", HEALTH, rule_keys if len(lists) >= 2 else []),
                            ("endpoint_urls", AGENT, endpoint_keys),
                            ("hooks", LIFECYCLE, hook_keys)):
    body = entry_of(parent, place)
    if body is None:
        continue  # reported above
    for k in keys:
        if not named(body, k):
            fail("asg-agent.json(5): \"%s\" (a key of %s) not named in its entry"
                 % (k, parent))

# No key reference table in the prose documentation.
for rel in ["README.md"] + sorted(os.path.relpath(p, top) for p in
                                  glob.glob(os.path.join(top, "docs", "*.md"))):
    for n, line in enumerate(read(rel).split("\n"), 1):
        if re.match(r"\|\s*key\s*\|\s*default\s*\|", line):
            fail("%s:%d: a key reference table; the keys are defined in "
                 "asg-agent.json(5), link to it" % (rel, n))

if not failures:
    print("man-keys: %d keys (%d health.json, %d agent.json, %d lifecycle), %d check types, "
          "each defined once in asg-agent.json(5)" % (len(expected), len(health_keys), len(top_keys),
                                                     len(lifecycle_keys), len(types)))
sys.exit(1 if failures else 0)
