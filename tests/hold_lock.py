#!/usr/bin/env python3
"""tests/hold_lock.py DB SECONDS [SQL]: hold the database's write lock
(BEGIN IMMEDIATE plus one row, as an import would) for SECONDS, then roll
back; with SQL, run it then and commit (foreign keys on, as the store has
them), so it lands before any writer that waited for the lock.
Prints "held" once the lock is taken.  (The sqlite3 shell reading a pipe
does not run statements before its input ends, so it cannot do this.)
DB may be a postgresql:// URL (SP_BACKEND=pg): then psql holds the same
lock the store's writers take there, the advisory transaction lock
SP_PG_LOCK_WRITE read from server/core/store.h, plus the row."""
import os, re, sqlite3, subprocess, sys, time

ROW = "INSERT INTO audit_log (at, actor, action, object) VALUES (0, 'test', 'hold', 'lock')"

if sys.argv[1].startswith(('postgresql://', 'postgres://')):
    h = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'server', 'core', 'store.h')
    m = re.search(r'#define\s+SP_PG_LOCK_WRITE\s+(0x[0-9a-fA-F]+|[0-9]+)', open(h).read())
    if not m:
        sys.exit('hold_lock.py: server/core/store.h defines no SP_PG_LOCK_WRITE (the PostgreSQL writers\' lock)')
    key = int(m.group(1), 0)
    # psql runs each line as it reads it from the pipe; the SELECT's row
    # tells that the lock is taken.
    p = subprocess.Popen(['psql', sys.argv[1], '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p.stdin.write('BEGIN;\nSELECT pg_advisory_xact_lock(%d);\n%s;\nSELECT \'held\';\n' % (key, ROW))
    p.stdin.flush()
    for line in p.stdout:
        if line.strip() == 'held':
            break
    else:
        sys.exit('hold_lock.py: psql did not take the lock')
    print('held', flush=True)
    time.sleep(float(sys.argv[2]))
    p.stdin.write('%s;\nCOMMIT;\n' % sys.argv[3] if len(sys.argv) > 3 else 'ROLLBACK;\n')
    p.stdin.close()
    sys.exit(p.wait())

c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute('PRAGMA foreign_keys = ON')
c.execute('BEGIN IMMEDIATE')
c.execute(ROW)
print('held', flush=True)
time.sleep(float(sys.argv[2]))
if len(sys.argv) > 3:
    c.execute(sys.argv[3])
    c.execute('COMMIT')
else:
    c.execute('ROLLBACK')
