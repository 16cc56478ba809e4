// python3 as a position-independent executable: Debian's python3.11 is non-PIE (ET_EXEC), which
// xos refuses until libos leaves the lower half (issue 12, part 2), so the python-pie case runs
// the same interpreter, Debian's libpython3.11.so from the test root, through this PIE main.
// Built by the host's gcc against Debian's libpython3.11-dev; PYTHONHOME=/usr finds the root's
// standard library.
#include <Python.h>

int main(int argc, char** argv) { return Py_BytesMain(argc, argv); }
