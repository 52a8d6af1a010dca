#!/usr/bin/env python3
"""sql_extract.py FILE...: every SQL statement written as a C string in FILEs.

Prints each statement once, NUL-terminated, in the order first seen.  A
statement is a run of adjacent string literals and string macros (#define
NAME "..." in the same files, e.g. TENANT_COLS) that begins with SELECT,
INSERT, UPDATE, DELETE, WITH or REPLACE.  Used by tests/t/a1-pg-driver.sh to
prepare and run every statement of the store on PostgreSQL, so a statement
added to store*.c is checked without anyone listing it.
"""
import re
import sys

TOKEN = re.compile(r'''
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<str>"(?:\\.|[^"\\])*")
  | (?P<chr>'(?:\\.|[^'\\])*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<nl>\n)
  | (?P<other>.)
''', re.S | re.X)


def unescape(lit):
    body = lit[1:-1]
    return bytes(body, 'utf-8').decode('unicode_escape').encode('latin-1').decode('utf-8')


def tokens(src):
    for m in TOKEN.finditer(src):
        kind = m.lastgroup
        if kind in ('comment', 'chr'):
            continue
        if kind == 'other' and m.group().isspace():
            continue
        yield kind, m.group()


def main():
    srcs = [open(f, encoding='utf-8').read() for f in sys.argv[1:]]
    macros = {}
    # String macros first (a macro may use another: expand in order).
    for src in srcs:
        for m in re.finditer(r'^#define\s+([A-Z_][A-Z0-9_]*)\s+((?:[^\n]*\\\n)*[^\n]*)', src, re.M):
            body = m.group(2).replace('\\\n', ' ')
            parts, okm = [], True
            for kind, t in tokens(body):
                if kind == 'str':
                    parts.append(unescape(t))
                elif kind == 'ident' and t in macros:
                    parts.append(macros[t])
                elif kind == 'nl':
                    continue
                else:
                    okm = False
                    break
            if okm and parts:
                macros[m.group(1)] = ''.join(parts)
    seen, out = set(), []
    for src in srcs:
        src = re.sub(r'^#(?:\\\n|[^\n])*', '', src, flags=re.M)
        run, strs = [], 0
        for kind, t in list(tokens(src)) + [('other', ';')]:
            if kind == 'nl':
                continue
            if kind == 'str':
                run.append(unescape(t))
                strs += 1
                continue
            if kind == 'ident' and t in macros:
                run.append(macros[t])
                continue
            if run:
                sql = ''.join(run).strip()
                if re.match(r'(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b', sql, re.I) and sql not in seen:
                    seen.add(sql)
                    out.append(sql)
            run, strs = [], 0
    for sql in out:
        sys.stdout.write(sql + '\0')


main()
