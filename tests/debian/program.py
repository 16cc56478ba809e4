"""Python 3 on xos (tests/debian): json, sqlite3 (in memory and in a file), threads and a TCP
echo on 127.0.0.1, all inside one process. Prints the same lines natively and on xos; exits 0
only when every check held.

    python3 program.py DIRECTORY     (a writable directory for the sqlite3 file)
"""
import hashlib
import json
import os
import socket
import sqlite3
import sys
import threading

directory = sys.argv[1]
failures = []


def check(name, got, wanted):
    print('%s: %r' % (name, got))
    if got != wanted:
        failures.append('%s: got %r, wanted %r' % (name, got, wanted))


# json: a round trip, sorted keys.
document = {'name': 'xos', 'numbers': [1, 2.5, -3], 'nested': {'ok': True, 'none': None}}
text = json.dumps(document, sort_keys=True)
check('json', text, '{"name": "xos", "nested": {"none": null, "ok": true}, "numbers": [1, 2.5, -3]}')
check('json round trip', json.loads(text) == document, True)

# sqlite3 in memory.
memory = sqlite3.connect(':memory:')
memory.execute('create table t (k integer primary key, v text)')
memory.executemany('insert into t (v) values (?)', [('v%d' % i,) for i in range(100)])
check('sqlite3 memory', memory.execute('select count(*), min(v), max(k) from t').fetchone(), (100, 'v0', 100))

# sqlite3 in a file: written, closed, reopened.
path = os.path.join(directory, 'python-test.db')
if os.path.exists(path):
    os.unlink(path)
db = sqlite3.connect(path)
db.execute('create table kv (k text primary key, v integer)')
with db:
    db.executemany('insert into kv values (?, ?)', [('key%03d' % i, i * i) for i in range(200)])
db.close()
db = sqlite3.connect(path)
check('sqlite3 file', db.execute('select count(*), sum(v) from kv').fetchone(), (200, sum(i * i for i in range(200))))
db.close()
check('sqlite3 file size > 0', os.path.getsize(path) > 0, True)
os.unlink(path)

# threads: each hashes its own data, all joined.
results = [None] * 8


def work(index):
    digest = hashlib.sha256()
    for i in range(2000):
        digest.update(b'%d:%d;' % (index, i))
    results[index] = digest.hexdigest()[:16]


threads = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
for t in threads:
    t.start()
for t in threads:
    t.join()
check('threads', [r is not None for r in results], [True] * len(results))
print('thread digests: %s' % ' '.join(results))
lock = threading.Lock()
counter = [0]


def add():
    for _ in range(1000):
        with lock:
            counter[0] += 1


threads = [threading.Thread(target=add) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check('locked counter', counter[0], 4000)

# A TCP echo server on 127.0.0.1 in a thread; the main thread is its client.
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 0))
server.listen(1)
port = server.getsockname()[1]


def echo():
    connection, _ = server.accept()
    with connection:
        while True:
            data = connection.recv(4096)
            if not data:
                break
            connection.sendall(data)


echo_thread = threading.Thread(target=echo)
echo_thread.start()
client = socket.create_connection(('127.0.0.1', port))
message = b''.join(b'line %d\n' % i for i in range(1000))
client.sendall(message)
client.shutdown(socket.SHUT_WR)
received = b''
while True:
    data = client.recv(65536)
    if not data:
        break
    received += data
client.close()
echo_thread.join()
server.close()
check('tcp echo bytes', len(received), len(message))
check('tcp echo same', received == message, True)

if failures:
    print('FAILED:\n' + '\n'.join(failures), file=sys.stderr)
    sys.exit(1)
print('all checks passed')
