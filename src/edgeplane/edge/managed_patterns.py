"""The managed WAF rule set: what each rule looks for, how bad a match is, and where it looks.

Patterns run on lower-cased text (``managed`` lower-cases and decodes every inspected value first). Each rule
has one or more *forms*; a form names its targets (request parameters, the User-Agent and Referer headers, the
whole path), a trigger, and a regex tail:

- ``START``: the tail must match at the start of the value (``;id``, ``127.0.0.1|id``); the form's key lists
  characters of which the value must contain one before the regex is even tried.
- ``NUMBER``: the tail must match right after a number the value starts with (``1 and 1=1``, ``-1 union``).
- ``QUOTE``: the tail must match right at the value's first quote (``'`` or ``"``), the place where an injection
  breaks out of a string literal (``x' or '1'='1``). Apostrophes in prose (``O'Brien``, ``it's``) and quoted
  code never break out like that (backticks, markdown's code quotes, are no quotes here), which is how SQL and
  code inside prompts stays below the threshold.
- ``SEARCH``: the key is a literal the value must contain; the regex is that literal followed by the tail,
  searched anywhere. Starting with a literal lets CPython's regex engine skip straight to candidates, and a
  one-character trigger is first tested with ``in`` (memchr), so a value without it costs almost nothing.
  Keyword lists hang off one character with look-behinds, e.g. ``(`` then ``(?<=sleep\\()``; ``GUARDS`` add a
  cheap look-around every form of a trigger satisfies (a function name before ``(``), so most candidates fail
  at once.

Rules that find a payload are critical; rules that find a mere mention (a JS sink, an OS file name, ``UNION
SELECT`` in prose, a ``$(…)``) are notices, so only several of them together reach the threshold. Forms that
share an anchor or trigger are compiled together (see ``managed.ManagedRules``), so the number of
regex scans per value is the number of distinct triggers present in it, not the number of rules. Headers get
the rules the OWASP Core Rule Set applies to them (SQL injection, XSS, traversal, Java and template injection,
Shellshock), not the shell-chaining and file-name ones meant for parameters. Rules without forms (scanner
User-Agents and headers, request smuggling) are header checks that ``managed`` makes directly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ARGS",
    "CATEGORIES",
    "CRITICAL",
    "ERROR",
    "GUARDS",
    "HEADER",
    "NOTICE",
    "NUMBER",
    "PATH",
    "QUOTE",
    "RULES",
    "SCANNER_AGENTS",
    "SEARCH",
    "START",
    "WARNING",
    "Form",
    "Rule",
]

CRITICAL, ERROR, WARNING, NOTICE = 5, 4, 3, 2
"""Anomaly scores by severity, as in the OWASP Core Rule Set."""

ARGS, HEADER, PATH = 1, 2, 4
"""Form targets: parameters (query and body fields and their names, cookies, path segments), the User-Agent and
Referer headers, the whole decoded path."""
_VALUES = ARGS | HEADER

START, NUMBER, QUOTE, SEARCH = "start", "number", "quote", "search"

_SQL_WORDS = r"o[rn]|and|xor|div|union|order|group|having|procedure|limit|into|waitfor|r?like|regexp"
GUARDS = {
    "(": r"(?<=\w\()",
    ".": r"(?=[.a-z])",
    "/": r"(?=[a-z*?.])",
    "_": r"(?<=[a-z]_)(?=[a-z])",
    QUOTE: rf"(?=[\s)(;|&+\-*/%^#>`$,]|{_SQL_WORDS})",
    NUMBER: rf"(?=[;|&+\-*/%^]|{_SQL_WORDS})",
}
"""Per anchor or trigger, a look-around every form of it satisfies, tested before the forms' alternation: only a
function call's ``(`` can match, only a ``.`` before a letter or dot, only a quote followed by what breaks out of
a string (an apostrophe in ``it's`` or ``O'Brien`` fails here at once)…"""

CATEGORIES = frozenset({"sqli", "xss", "traversal", "cmdi", "rce", "scanner", "protocol"})


@dataclass(frozen=True, slots=True)
class Form:
    """One way a rule matches: its targets (bit set), anchor, regex tail and key: the trigger literal of a
    ``SEARCH`` form, the characters one of which a ``START`` form needs."""

    targets: int
    anchor: str
    tail: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """A managed rule; ``rule_id`` is stable (users exclude rules by it)."""

    rule_id: str
    category: str
    severity: int
    title: str
    forms: tuple[Form, ...]


def _start(tail: str, needs: str, targets: int = _VALUES) -> Form:
    return Form(targets, START, tail, needs)


def _number(tail: str) -> Form:
    return Form(_VALUES, NUMBER, tail)


def _quote(tail: str, targets: int = _VALUES) -> Form:
    return Form(targets, QUOTE, tail)


def _on(trigger: str, tail: str, targets: int = _VALUES) -> Form:
    return Form(targets, SEARCH, tail, trigger)


# ---------------------------------------------------------------------------------------------------- building blocks
_SEP = r"[/\\]"
_GAP = r"[\s(]*"  # between SQL keywords; empty is allowed for the comment-stripped variant (un/**/ion)
_BOOL = r"(?:(?:or|and|xor|div)\b|\|\||&&)"
_CMP = (
    r"(?:=|<=>|<>|!=|<=?|>=?|\b(?:r?like|regexp)\s*['\"(\d%]|\bbetween\s+\S+\s+and\b|\bin\s*\("
    r"|\bis\s+(?:not\s+)?(?:null|true|false)\b)"
)
_FN = (
    r"(?:sleep|benchmark|pg_sleep|ascii|ord|substr(?:ing)?|mid|length|len|if|iif|case|exists|select|char|chr|hex|bin"
    r"|elt|extractvalue|updatexml|rand|ifnull|isnull|nullif|coalesce|randomblob|exp|floor|cast|convert|concat|count"
    r"|make_set|strcmp|version|user|database|load_file|db_name|instr|unicode|regexp_like|nvl|decode"
    r"|dbms_\w+\.\w+|utl_\w+\.\w+|json_\w+|gtid_subset|polygon|geometrycollection|multipoint)\s*\("
)
_END = r"\s*(?:$|--|#|/\*|;|\)|\b(?:and|or)\b)"
_CONDITION = (
    rf"{_GAP}(?:[\w'\"@.`)\-]*\s*{_CMP}|(?:true|false|null)\b{_END}|not\s*[\d'\"(]|{_FN}|select\b|exists\b"
    r"|case\s+when\b"
)
_TAIL = _CONDITION + r"|\d+\s*(?:$|--|#|/\*|;|\)))"
_NUM_TAIL = _CONDITION + r"|\d+\s*(?:--|#|/\*|;))"
_UNION = rf"union{_GAP}(?:(?:all|distinct)[\s(]+)?select\b"
_STACKED = (
    r";\s*(?:drop|delete|insert|update|create|alter|truncate|exec(?:ute)?|declare|shutdown|select|waitfor|grant"
    r"|revoke|rename|call|set\s+@|load|copy|begin|use)\b"
)
_CLAUSE = (
    r"(?:order\s+by\s+\d|group\s+by\b|having\s+\d|procedure\s+analyse|limit\s+\d+\s*(?:,|offset|--|#|$)"
    r"|into\s+(?:out|dump)file|waitfor\s+(?:delay|time)\b|r?like\s*\(?\s*(?:select\b|" + _FN + r"))"
)
_ARITH = rf"(?:\|\||[+\-*/%^|&])\s*\(?\s*(?:select\b|{_FN})"
_BREAK = r"\s*\)*\s*"

# commands that are not English words: dangerous right after a shell separator
_COMMANDS = (
    r"(?:id|whoami|uname|ifconfig|ipconfig|netstat|printenv|hostname|wget|curl|nc|ncat|netcat|telnet|nslookup|bash"
    r"|sh|zsh|ksh|dash|csh|busybox|powershell|pwsh|cmd(?:\.exe)?|certutil|bitsadmin|mshta|rundll32|regsvr32|wmic"
    r"|systeminfo|tasklist|ls|dir|pwd|env|chmod|chown|mkfifo|nohup|socat|base64|xxd|useradd|sudo|traceroute|ps|rm)"
)
_STRONG = rf"(?:{_COMMANDS}|/(?:usr/)?s?bin/{_COMMANDS})(?![\w.\-])"
# commands that are also words (cat, echo, sleep…): only with arguments that look like a shell command's
_WEAK = (
    r"(?:cat\s+[^\s;|&]*[/\\.~$*][^\s;|&]|(?:head|tail|more|less|nl|tac)\s+(?:-\w+\s+)*[^\s;|&]*[/\\]"
    r"|echo\s+(?:['\"$]|\S+\s*(?:$|[;|&>#`]))|sleep\s+\d|timeout\s+\d|ping\s+(?:-\w+\s+\d*\s*)*[\w.\-]*\d"
    r"|type\s+[a-z]:\\|kill\s+-\d|find\s+/|touch\s+/|net\s+(?:user|localgroup|view|share)\b"
    r"|(?:python[23]?|perl|php|ruby|node|lua)\s+-[cer]\b)"
)
_CMD = rf"(?:{_STRONG}|{_WEAK})"
_SHELL_SEP = r"(?:;|\|\|?|&&?|\r?\n)"
_TOKEN = r"\s*[\w.\-:/@,=+%]*+"  # the harmless value an injection is appended to: 127.0.0.1, report.pdf, 42
_OS_FILE = (
    r"(?:etc" + _SEP + r"+(?:passwd|shadow|group|hosts|issue|sudoers|crontab|fstab|hostname|resolv\.conf|os-release"
    r"|mtab|motd|environment|profile|master\.passwd|nginx|apache2|httpd|mysql|ssh)\b"
    r"|proc" + _SEP + r"+(?:self|\d+|thread-self)" + _SEP + r"+(?:environ|cmdline|maps|mem|fd|status|exe|cwd|root)"
    r"|windows"
    + _SEP
    + r"+(?:win\.ini|system\.ini|system32)|boot\.ini|winnt"
    + _SEP
    + r"|inetpub"
    + _SEP
    + r"|var"
    + _SEP
    + r"+log"
    + _SEP
    + r"|root"
    + _SEP
    + r"|home"
    + _SEP
    + r"+[^/\\\s]+"
    + _SEP
    + r"+\.ssh)"
)
_AUTO_EVENTS = (
    r"error|load|focus|blur|toggle|begin|start|end|animation\w*|transition\w*|pageshow|hashchange|message|scroll"
    r"|resize|pointer\w+|mouseenter|wheel|beforeprint|afterprint|loadstart|canplay\w*|popstate|readystatechange"
)
"""Event handlers that fire without a click: the ones XSS payloads use."""
_JS_SINKS = (
    r"(?:alert|prompt|confirm|eval|fetch|atob|import|document\.|window\.|location|fromcharcode|constructor"
    r"|settimeout|setinterval|top\[|self\[)"
)
_JS_WORDS = (
    r"(?:alert|prompt|confirm|eval|fetch|import|document|window|top|self|this|parent|frames|globalthis"
    r"|constructor|location|settimeout|setinterval|function|atob)\b"
)
SCANNER_AGENTS = (
    "sqlmap", "nikto", "nmap scripting engine", "masscan", "zgrab", "nuclei", "acunetix", "netsparker", "wpscan",
    "dirbuster", "gobuster", "feroxbuster", "fuzz faster u fool", "wfuzz", "whatweb", "nessus", "openvas", "w3af",
    "arachni", "skipfish", "commix", "havij", "zmeu", "morfeus", "jorgee",
)  # fmt: skip
"""Lower-case marks of security scanners' default User-Agent strings (scanner-601 looks for each with ``in``)."""

# ---------------------------------------------------------------------------------------------------------- the rules
RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------------------------------------------ SQL injection
    Rule(
        "sqli-101",
        "sqli",
        CRITICAL,
        "Boolean condition right after breaking out of a string: x' or '1'='1",
        (_quote(rf"{_BREAK}{_BOOL}{_TAIL}"),),
    ),
    Rule("sqli-102", "sqli", CRITICAL, "UNION SELECT right after a string break", (_quote(rf"{_BREAK}{_UNION}"),)),
    Rule("sqli-103", "sqli", CRITICAL, "Stacked query after a string break: '; drop …", (_quote(_BREAK + _STACKED),)),
    Rule(
        "sqli-104",
        "sqli",
        CRITICAL,
        "Comment that cuts the query off after a string break: admin'--",
        (_quote(r"(?:(?<=[\w)]['\"])|(?<=^['\"]))\s*\)*\s*(?:--(?:\s|-|$)|#|/\*)"),),
    ),
    Rule(
        "sqli-105",
        "sqli",
        CRITICAL,
        "Query clause after a string break: ' order by 3--, ' waitfor delay",
        (_quote(_BREAK + _CLAUSE),),
    ),
    Rule("sqli-106", "sqli", CRITICAL, "Arithmetic with a subquery after a string break", (_quote(_BREAK + _ARITH),)),
    Rule("sqli-110", "sqli", CRITICAL, "Boolean condition after a number: 1 and 1=1", (_number(_BOOL + _NUM_TAIL),)),
    Rule("sqli-111", "sqli", CRITICAL, "UNION SELECT after a number: -1 union select", (_number(_UNION),)),
    Rule(
        "sqli-112",
        "sqli",
        CRITICAL,
        "Stacked query after a number",
        (_number(_STACKED), _start(r"\s*\)*\s*" + _STACKED, ";")),
    ),
    Rule("sqli-113", "sqli", CRITICAL, "Query clause after a number: 1 order by 5", (_number(_CLAUSE),)),
    Rule("sqli-114", "sqli", CRITICAL, "Arithmetic with a subquery after a number", (_number(_ARITH),)),
    Rule(
        "sqli-115",
        "sqli",
        CRITICAL,
        "Tautology appended to a word: test or 1=1",
        (
            _start(
                rf"\s*(?:[\w.@\-]++\s+)?{_BOOL}\s*(?P<sqli115>\d+|'\w*'|\"\w*\")\s*(?:=|>=|<=)\s*(?P=sqli115)"
                r"(?!\w)",
                needs="=",
            ),
        ),
    ),
    Rule(
        "sqli-120",
        "sqli",
        CRITICAL,
        "UNION SELECT that extracts data: union select null,@@version…",
        (
            _on(
                "union",
                rf"{_GAP}(?:(?:all|distinct)[\s(]+)?select[\s(]+(?:null\b|\d+\s*(?:,|--|#|$|from\b)|0x|@@|['\"]"
                r"|n?cha?r\s*\(|concat|group_concat|version\s*\(|user\s*\(|current_user|system_user|database\s*\("
                r"|schema\s*\(|db_name|table_name|column_name|load_file|banner\b|[\w.]*pass(?:word|wd)?\b"
                r"|[\w.]+\s*,\s*[\w.]+\s+from\s+[\w.]+\s*(?:--|#|/\*|;))",
            ),
        ),
    ),
    Rule("sqli-121", "sqli", NOTICE, "UNION SELECT", (_on("union", rf"{_GAP}(?:(?:all|distinct)[\s(]+)?select\b"),)),
    Rule(
        "sqli-122",
        "sqli",
        CRITICAL,
        "Time delay function: sleep(5), benchmark(…), pg_sleep, waitfor delay",
        (
            _on(
                "(",
                r"(?:(?<=[(,'\"|&=+\-*/]sleep\()|(?<=and sleep\()|(?<=or sleep\()|(?<=xor sleep\()"
                r"|(?<=select sleep\()|(?<=pg_sleep\()|(?<=lock\.sleep\()|(?<=^sleep\())\s*\d"
                r"|(?<=benchmark\()\s*\d+\s*,|(?<=receive_message\()|(?<=randomblob\()\s*\d{6}",
            ),
            _on(";", r"\s*waitfor\s+(?:delay|time)\s+['\"]"),
        ),
    ),
    Rule(
        "sqli-123",
        "sqli",
        CRITICAL,
        "Error-based extraction function: extractvalue, updatexml, floor(rand(0)*2)…",
        (
            _on(
                "(",
                r"(?:(?<=extractvalue\()|(?<=updatexml\()|(?<=floor\(rand\()|(?<=exp\()~\(|(?<=xmltype\()"
                r"|(?<=get_host_address\()|(?<=get_host_name\()|(?<=drithsx\.sn\()|(?<=gtid_subset\()"
                r"|(?<=geometrycollection\()|(?<=multipoint\()|(?<=multilinestring\()|(?<=multipolygon\()"
                r"|(?<=linestring\()|(?<=polygon\()(?=\s*\(\s*select)|(?<=json_keys\()(?=\s*\(\s*select))"
                r"|(?<=convert\()\s*int\s*,",
            ),
        ),
    ),
    Rule(
        "sqli-124",
        "sqli",
        CRITICAL,
        "String built from character codes or hex: char(114,111,…), concat(0x7e,…)",
        (
            _on(
                "(",
                r"(?:(?<=char\()|(?<=chr\())\s*\d+\s*(?:,\s*\d+\s*){2,}\)"
                r"|(?:(?<=char\()|(?<=chr\())\s*\d+\s*\)\s*(?:\+|\|\|)\s*n?chr?a?r?\s*\("
                r"|(?:(?<=concat\()|(?<=concat_ws\())\s*(?:0x|n?char\s*\(|@@|\(\s*select|'~')|(?<=unhex\()",
            ),
        ),
    ),
    Rule(
        "sqli-125",
        "sqli",
        CRITICAL,
        "File access from SQL: load_file(…), into outfile",
        (_on("(", r"(?<=load_file\()"),),
    ),
    Rule(
        "sqli-126",
        "sqli",
        CRITICAL,
        "Database command execution: xp_cmdshell, sp_oacreate, sys_exec, pg_read_file",
        (
            _on("_", r"(?:(?<=xp_)cmdshell|(?<=sp_)oacreate|(?<=sp_)makewebtask|(?<=xp_)regread|(?<=xp_)dirtree)"),
            _on("(", r"(?:(?<=sys_exec\()|(?<=sys_eval\()|(?<=pg_read_file\()|(?<=lo_import\()|(?<=lo_export\())"),
            _on(";", r"\s*copy\b[^;]{0,100}?\bfrom\s+program\s+['\"]"),
        ),
    ),
    Rule(
        "sqli-127",
        "sqli",
        CRITICAL,
        "MySQL executable comment: /*!50000union*/",
        (_on("/", r"\*!\d*\s*(?:union|select|and|or|from|where|order|sleep|concat|having|\d)"),),
    ),
    Rule(
        "sqli-128",
        "sqli",
        CRITICAL,
        "Dangerous stacked statement: ; exec master..xp_…, ; shutdown, ; declare @x varchar",
        (
            _on(
                ";",
                r"\s*(?:exec(?:ute)?\s+(?:master\.|xp_|sp_)|shutdown\s*(?:--|#|;|$)|declare\s+@\w+\s+n?(?:var)?char"
                r"|drop\s+(?:table|database)\s+\S+\s*(?:--|#|;|$))",
            ),
        ),
    ),
    Rule(
        "sqli-129",
        "sqli",
        NOTICE,
        "Database catalog names: information_schema, sqlite_master, pg_shadow…",
        (
            _on(
                "_",
                r"(?:(?<=information_)schema|(?<=sqlite_)master|(?<=pg_)shadow|(?<=all_)tab_columns"
                r"|(?<=user_)tab_columns|(?<=sys\.)sql_logins)",
            ),
            _on(".", r"(?:(?<=mysql\.)user\b|(?<=sys\.)objects\b|(?<=sys\.)tables\b)"),
        ),
    ),
    Rule(
        "sqli-130",
        "sqli",
        NOTICE,
        "Server variable: @@version, @@datadir…",
        (_on("@", r"@(?:version|datadir|hostname|basedir|servername|global\.|session\.|tmpdir|spid|language)\b"),),
    ),
    Rule("sqli-131", "sqli", NOTICE, "Comparison with a long hex literal", (_on("=", r"\s*0x[0-9a-f]{6,}", ARGS),)),
    # ---------------------------------------------------------------------------------------- cross-site scripting
    Rule(
        "xss-201",
        "xss",
        CRITICAL,
        "Script tag that loads or runs code: <script src=…>, <script>alert(1)",
        (_on("<", r"\s*script\b[^>]*(?:\bsrc\s*=|>[^<]{0,200}?(?:[(=;]|\.\w|\w`|\bfunction\b))"),),
    ),
    Rule("xss-213", "xss", NOTICE, "Script tag", (_on("<", r"\s*/?\s*script(?:[\s/>]|$)"),)),
    Rule(
        "xss-202",
        "xss",
        CRITICAL,
        "Tag with an event handler that fires by itself or runs a sink: <img src=x onerror=…>, onclick=alert(1)",
        (
            _on(
                "<",
                r"[a-z][^>]{0,300}?[\s/\"'\x0c]on(?:" + _AUTO_EVENTS + r")\s*=(?!\s*\{)"
                r"|[a-z][^>]{0,300}?[\s/\"'\x0c]on[a-z]{3,}\s*=\s*['\"]?[^>]{0,100}?" + _JS_SINKS,
            ),
        ),
    ),
    Rule(
        "xss-212",
        "xss",
        ERROR,
        "Tag with an event handler: <button onclick=…>",
        (_on("<", r"[a-z][^>]{0,300}?[\s/\"'\x0c]on[a-z]{3,}\s*=(?!\s*\{)"),),
    ),
    Rule(
        "xss-203",
        "xss",
        ERROR,
        "Embedding tag: iframe, object, embed, applet, frame, base",
        (_on("<", r"\s*(?:iframe|frame|frameset|object|embed|applet|base|portal)\b"),),
    ),
    Rule(
        "xss-204",
        "xss",
        CRITICAL,
        "Tag attribute that loads script: srcdoc=, formaction=, meta refresh, link rel=import",
        (
            _on(
                "<",
                r"[a-z][^>]{0,300}?[\s/\"'](?:srcdoc|formaction)\s*=|\s*meta\b[^>]*http-equiv\s*=\s*['\"]?refresh"
                r"|\s*link\b[^>]*rel\s*=\s*['\"]?import",
            ),
        ),
    ),
    Rule(
        "xss-205",
        "xss",
        CRITICAL,
        "javascript: or vbscript: URI",
        (
            _on(
                ":",
                r"(?:(?<=javascript:)|(?<=vbscript:)|(?<=livescript:))"
                r"(?=\s{0,3}(?:[\w$.\[\]'\"]+\s*[(=`]|/[/*]|[(\[{'\"]|void\b|%[0-9a-f]{2}))",
            ),
        ),
    ),
    Rule(
        "xss-206",
        "xss",
        CRITICAL,
        "data: URI with HTML or script",
        (
            _on(
                ":",
                r"(?<=data:)\s*(?:text/html|image/svg\+xml|text/javascript|application/(?:x-)?(?:java|ecma)script"
                r"|application/xhtml)",
            ),
        ),
    ),
    Rule(
        "xss-207",
        "xss",
        CRITICAL,
        'Event handler after breaking out of an attribute: " onmouseover=…',
        (_quote(r"(?:[\s/]+(?:[\w\-]++(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>'\"]+))?[\s/]+){0,4}?)?on[a-z]{3,}\s*="),),
    ),
    Rule(
        "xss-208",
        "xss",
        CRITICAL,
        "Script after breaking out of a JavaScript string: ';alert(1)//",
        (_quote(rf"\s*[;+\-*|&,)]+\s*{_JS_WORDS}"),),
    ),
    Rule(
        "xss-209", "xss", ERROR, 'Markup after breaking out of an attribute: "><', (_quote(r"\s*/?\s*>\s*<\s*[a-z!/]"),)
    ),
    Rule(
        "xss-210",
        "xss",
        NOTICE,
        "JavaScript sink: alert(, eval(, document.cookie…",
        (
            _on(
                "(",
                r"(?:(?<=^alert\()|(?<=[^\w.$]alert\()|(?<=^prompt\()|(?<=[^\w.$]prompt\()|(?<=^confirm\()"
                r"|(?<=[^\w.$]confirm\()|(?<=[^\w.$]eval\()|(?<=fromcharcode\()|(?<=[^\w.]atob\()"
                r"|(?<=document\.write\())",
            ),
            _on("`", r"(?:(?<=alert`)|(?<=prompt`)|(?<=confirm`))"),
            _on(".", r"(?:(?<=document\.)(?:cookie|domain)\b|(?<=window\.)location\b|innerhtml\s*=)"),
        ),
    ),
    Rule(
        "xss-211",
        "xss",
        CRITICAL,
        "Client-side template injection: {{constructor.constructor(…)}}, {{7*7}}",
        (
            _on(
                "{",
                r"\{[^}]{0,100}?(?:constructor\s*[.(\[]|\$on\.|\$eval\s*\(|\$parse|\$emit\s*\(|alert\s*\(|prompt\s*\("
                r"|confirm\s*\()|\{\s*\d+\s*[*+\-/]\s*['\"]?\d+['\"]?\s*\}\}",
            ),
        ),
    ),
    # ---------------------------------------------------------------------------------- path traversal and LFI
    Rule(
        "traversal-301",
        "traversal",
        CRITICAL,
        "Path traversal: ../../",
        (
            _on(
                ".",
                r"\.+;?"
                + _SEP
                + r"+(?:\.\.+;?"
                + _SEP
                + r"+)+|\.+;?"
                + _SEP
                + r"+(?:[^/\\\s]+"
                + _SEP
                + r"+){0,6}?"
                + _OS_FILE,
                _VALUES | PATH,
            ),
        ),
    ),
    Rule(
        "traversal-302",
        "traversal",
        CRITICAL,
        "Path traversal at the start of a value or inside the URL path",
        (
            _on(".", r"(?<=^\.)\.+;?" + _SEP, ARGS),
            _on(".", r"(?<=[/\\]\.)\.+;?(?:[/\\]|$)", PATH),
        ),
    ),
    Rule("traversal-303", "traversal", NOTICE, "Parent directory reference: ../", (_on(".", r"\.+;?" + _SEP),)),
    Rule(
        "traversal-304",
        "traversal",
        CRITICAL,
        "Absolute path to an operating system file: /etc/passwd, c:\\windows\\win.ini",
        (
            _start(
                r"\s*(?:file:/*|[a-z]:)?"
                + _SEP
                + r"+(?:[^/\\\s]+"
                + _SEP
                + r"+){0,8}?"
                + _OS_FILE
                + r"[^\s\x00?#&;|]*(?=\s*(?:$|[\x00?#&;|]))",
                "/\\",
                ARGS,
            ),
        ),
    ),
    Rule(
        "traversal-305",
        "traversal",
        NOTICE,
        "Operating system file name: etc/passwd, win.ini, /proc/self/environ",
        (
            _on("/", _OS_FILE, ARGS | PATH),
            _on("\\", _OS_FILE, ARGS | PATH),
            _on(".", r"ini\b(?:(?<=win\.ini)|(?<=boot\.ini)|(?<=system\.ini))", ARGS | PATH),
        ),
    ),
    Rule("traversal-306", "traversal", CRITICAL, "Null byte", (_on("\x00", "", _VALUES | PATH),)),
    Rule(
        "traversal-307",
        "traversal",
        CRITICAL,
        "File inclusion wrapper: php://filter, phar://, zip://, expect://, data://",
        (
            _on(
                ":",
                r"(?:(?<=php:)//(?:filter|input|fd|memory|temp)|(?<=phar:)//|(?<=zip:)//|(?<=expect:)//|(?<=glob:)//"
                r"|(?<=data:)//\s*text/|(?<=compress\.zlib:)//|(?<=file:)///*(?:[a-z]:)?"
                + _SEP
                + r"*"
                + _OS_FILE
                + ")",
                ARGS | PATH,
            ),
        ),
    ),
    Rule(
        "traversal-308",
        "traversal",
        CRITICAL,
        "Restricted file in the URL path: /.env, /.git/config, /wp-config.php…",
        (
            _on(
                "/",
                r"(?:\.(?:env|git|svn|hg|bzr|htaccess|htpasswd|ds_store|aws|ssh|docker|npmrc|pypirc|bash_history"
                r"|mysql_history|idea|user\.ini)(?:[/.~_\-]|$)|(?:wp-config\.php|web\.config|phpinfo\.php"
                r"|id_rsa|(?:backup|dump|db|database)\.(?:sql|zip|tar|tgz|gz|bak))(?:[/.~]|$))",
                PATH,
            ),
        ),
    ),
    # ----------------------------------------------------------------------------------------- command injection
    Rule(
        "cmdi-401",
        "cmdi",
        CRITICAL,
        "Shell command chained onto a value: 127.0.0.1; cat /etc/passwd",
        (_start(rf"{_TOKEN}\s*{_SHELL_SEP}\s*{_CMD}", ";|&\n\r", ARGS),),
    ),
    Rule(
        "cmdi-402",
        "cmdi",
        CRITICAL,
        "Command substitution in a value: `id`, $(whoami)",
        (_start(rf"{_TOKEN}(?:`|\$\()\s*{_CMD}", "`$", ARGS),),
    ),
    Rule(
        "cmdi-403",
        "cmdi",
        CRITICAL,
        "Shell command after breaking out of a string: '; id #",
        (_quote(rf"\s*{_SHELL_SEP}\s*{_CMD}", ARGS),),
    ),
    Rule(
        "cmdi-404",
        "cmdi",
        CRITICAL,
        "Shell evasion: ${IFS}, {cat,/etc/passwd}, /???/??t",
        (
            _on("$", r"(?:\{ifs(?:%\?\?)?\}|ifs\$\d|ifs\b)", ARGS),
            _on("{", r"(?:cat|ls|wget|curl|nc|bash|sh|echo|id|ping|whoami|uname),[^}]+\}", ARGS),
            _on("/", r"\?[?a-z]*/[?a-z]*\?", ARGS),
        ),
    ),
    Rule(
        "cmdi-405",
        "cmdi",
        CRITICAL,
        "Reverse shell or remote download: /dev/tcp/, nc -e /bin/sh, powershell -enc",
        (
            _on(
                "/",
                r"(?:dev/(?:tcp|udp)/|(?<=-[ec] /)(?:usr/)?bin/(?:ba|z|k|da)?sh\b"
                r"|(?:usr/)?bin/(?:ba|z|k|da)?sh\s+-i\b)",
                ARGS,
            ),
            _on(
                "powershell",
                r"(?:\.exe)?\s+(?:-\w+\s+)*-(?:e|ec|enc|encodedcommand|nop|noprofile|w\s+hidden|windowstyle\s+hidden"
                r"|ep\s+bypass|exec(?:utionpolicy)?\s+bypass|c|command)\b",
                ARGS,
            ),
            _on("(", r"(?:(?<=downloadstring\()|(?<=downloadfile\()|(?<=pty\.spawn\()|(?<=os\.dup2\())", ARGS),
        ),
    ),
    Rule(
        "cmdi-406",
        "cmdi",
        CRITICAL,
        "Shellshock function definition: () { :; };",
        (
            _on("{", r"(?:(?<=\(\)\s\{)|(?<=\(\)\{))[^}]{0,20}\}\s*;"),
            _on("{", r"(?<=\(\)\s\{)|(?<=\(\)\{)", HEADER),
        ),
    ),
    Rule(
        "cmdi-407",
        "cmdi",
        NOTICE,
        "Shell separator followed by a command",
        (_on(";", rf"\s*{_STRONG}", ARGS), _on("|", rf"\s*{_STRONG}", ARGS), _on("&", rf"&\s*{_STRONG}", ARGS)),
    ),
    Rule(
        "cmdi-408",
        "cmdi",
        NOTICE,
        "Command substitution: $(…)",
        (_on("$", rf"\(\s*{_CMD}", ARGS),),
    ),
    # ------------------------------------------------------------------------------------ remote code execution
    Rule(
        "rce-501",
        "rce",
        CRITICAL,
        "Log4j lookup: ${jndi:ldap://…}",
        (
            _on(
                "$",
                r"\{\s*(?:jndi\s*:|(?:\$\{\s*)?(?:lower|upper)\s*:|::-|[a-z]{0,4}\$\{\s*(?:lower|upper|::-|env:|date:))",
            ),
        ),
    ),
    Rule(
        "rce-502",
        "rce",
        CRITICAL,
        "Server-side template injection: {{''.__class__}}, ${T(java.lang.Runtime)}",
        (
            _on(
                "{",
                r"[{%][^}%]{0,200}?(?:__(?:class|globals|builtins|subclasses|import|mro|init|base)__|\bconfig\b\s*[.\[}|]"
                r"|self\._templatereference|\blipsum\b|\bcycler\b|\bjoiner\b|request\.application|url_for\.__"
                r"|get_flashed_messages|popen\s*\(|os\.system|subprocess)",
            ),
            _on(
                "$",
                r"\{\s*(?:t\s*\(\s*java\.|[^}]{0,100}?(?:\.getclass\s*\(|runtime\.getruntime|processbuilder|freemarker\.))",
            ),
            _on(
                "#",
                r"(?:\{[^}]{0,100}?(?:t\s*\(\s*java\.|\.getclass\s*\(|runtime)|set\s*\(\s*\$\w+\s*=\s*\$?\w*\.?(?:class|getclass))",
            ),
            _on("<", r"#assign\b[^>]{0,200}?freemarker\.template\.utility\.execute"),
        ),
    ),
    Rule(
        "rce-503",
        "rce",
        CRITICAL,
        "Template arithmetic probe: ${7*7}, #{7*7}, <%= 7*7 %>",
        (
            _on("$", r"\{\s*\d+\s*\*\s*\d+\s*\}"),
            _on("#", r"\{\s*\d+\s*\*\s*\d+\s*\}"),
            _on("<", r"%=?\s*\d+\s*\*\s*\d+\s*%>"),
        ),
    ),
    Rule(
        "rce-504",
        "rce",
        CRITICAL,
        "PHP code: <?php system(…), eval($_POST[…])",
        (
            _on(
                "<",
                r"\?(?:php\b|=)[^\n]{0,200}?(?:system|exec|passthru|shell_exec|popen|proc_open|eval|assert"
                r"|base64_decode|`|\$_(?:get|post|request|cookie))",
            ),
            _on(
                "(",
                r"(?:(?<=[^\w.]system\()|(?<=^system\()|(?<=[^\w.]exec\()|(?<=^exec\()|(?<=passthru\()"
                r"|(?<=shell_exec\()|(?<=[^\w.]popen\()|(?<=proc_open\()|(?<=[^\w.]assert\()|(?<=[^\w.]eval\()"
                r"|(?<=^eval\())\s*(?:\$_(?:get|post|request|cookie|server)\b"
                r"|base64_decode|str_rot13|gzinflate|['\"](?:id|whoami|ls|cat|uname|wget|curl|nc|bash|sh)\b)",
            ),
        ),
    ),
    Rule(
        "rce-505",
        "rce",
        CRITICAL,
        "Java code execution: Runtime.getRuntime().exec(, OGNL, class.module.classLoader, serialized object",
        (
            _on("(", r"(?<=getruntime\(\)\.exec\()"),
            _on(".", r"(?:(?<=class\.)module\.classloader|classloader\b(?<=class\.classloader))"),
            _on("@", r"(?:ognl\.ognlcontext@|java\.lang\.(?:runtime|processbuilder)@)"),
            _on("#", r"_memberaccess\b"),
            _on("ro0ab", r"(?<=^ro0ab)"),
        ),
    ),
    Rule("rce-506", "rce", ERROR, "phpinfo()", (_on("(", r"(?<=phpinfo\()\s*\)"),)),
    Rule(
        "rce-507",
        "rce",
        CRITICAL,
        "Python code injection: __import__('os').system",
        (_on("(", r"(?<=__import__\()\s*['\"](?:os|subprocess|pty|socket|commands)['\"]"),),
    ),
    # ---------------------------------------------------------------------------------------------------- scanners
    Rule("scanner-601", "scanner", CRITICAL, "Security scanner User-Agent (see SCANNER_AGENTS)", ()),
    Rule("scanner-602", "scanner", CRITICAL, "Header only security scanners send: Acunetix-Aspect, X-WIPP…", ()),
    # -------------------------------------------------------------------------------------------- protocol attacks
    Rule(
        "protocol-701",
        "protocol",
        CRITICAL,
        "Header injection: CR/LF followed by a header",
        (
            _start(
                r"[^\s]*+[\r\n]+\s*(?:set-cookie|location|content-(?:type|length|security-policy)|refresh|host"
                r"|transfer-encoding|access-control-[\w\-]+|x-[\w\-]+)\s*:",
                "\r\n",
                ARGS | PATH,
            ),
            _on("\u560a", "", ARGS | PATH),
            _on("\u560d", "", ARGS | PATH),
        ),
    ),
    Rule(
        "protocol-702",
        "protocol",
        CRITICAL,
        "Request smuggling: Transfer-Encoding other than chunked, or together with Content-Length",
        (),
    ),
)
