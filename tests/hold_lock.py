#!/usr/bin/env python3
"""tests/hold_lock.py DB SECONDS: hold the database's write lock (BEGIN
IMMEDIATE plus one row, as an import would) for SECONDS, then roll back.
Prints "held" once the lock is taken.  (The sqlite3 shell reading a pipe
does not run statements before its input ends, so it cannot do this.)"""
import sqlite3, sys, time

c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute('BEGIN IMMEDIATE')
c.execute("INSERT INTO audit_log (at, actor, action, object) VALUES (0, 'test', 'hold', 'lock')")
print('held', flush=True)
time.sleep(float(sys.argv[2]))
c.execute('ROLLBACK')
