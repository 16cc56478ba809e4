"""The Linux microVM baseline: Debian's kernel as a PVH vmlinux, cached outside the repository.

    python3 -m harness.linux_vm [--print-key]     (from bench/) build if needed; prints the directory

Result: ${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/xos}/linux-vm-<key>/
    vmlinux      the ELF inside Debian's bzImage (xz payload decompressed), with the Xen PVH note
    vmlinuz      the packaged bzImage, kept for its size and for reference
    config       the kernel's build configuration
    modules/     the network card's drivers where the kernel has them as modules (Debian: virtio,
                 virtio_ring, virtio_mmio, failover, net_failover, virtio_net), uncompressed, and
                 `order`, their names in load order (dependencies first); used by bench/http
    modules-disk/  the same for a read-only EROFS root on a virtio-blk disk (virtio_blk, erofs and
                 what they depend on); used by bench/oci
    stamp        the key inputs; written last, its presence means the cache is complete
<key> = first 16 hex digits of sha256 over the kernel package's name and version and the
contents of this file. With a stamp present nothing is downloaded and the directory is printed
at once; otherwise `apt-get download` fetches the package (no server name is needed: apt's own
sources are used), `dpkg-deb --fsys-tarfile` gives /boot/vmlinuz-* and /boot/config-*, and the
build happens in <dir>.tmp.<pid>, renamed to <dir> when complete.
"""
import fcntl
import hashlib
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile

FORMAT = "xos-linux-vm-format: 3"
META_PACKAGE = "linux-image-amd64"
# The virtio-net driver stack: loaded by the Linux VM's /init (programs/linux_vm_init.c) for
# bench/http when the kernel has it as modules (Debian's has; a missing one is taken as built in).
NET_MODULES = ("virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover", "virtio_net")
# A disk and its file system: for bench/oci, whose Linux VM mounts a container image's EROFS file.
# erofs needs libcrc32c, whose crc32c algorithm is a module of its own (a softdep, not in depends=:
# named here, before it).
DISK_MODULES = ("virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "crc32c_generic", "erofs")


def log(message):
    print("[linux-vm] " + message, file=sys.stderr, flush=True)


def cache_root():
    root = os.environ.get("XOS_CACHE_DIR")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ["HOME"], ".cache"), "xos")
    return os.path.abspath(root)


def _apt_cache(*args):
    return subprocess.run(["apt-cache", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout


def _apt_lists_signature():
    lists = "/var/lib/apt/lists"
    try:
        names = sorted(f for f in os.listdir(lists) if "Packages" in f)
    except OSError:
        return None
    parts = []
    for f in names:
        st = os.stat(os.path.join(lists, f))
        parts.append("%s %d %d" % (f, st.st_mtime_ns, st.st_size))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def kernel_package():
    """(name, version) of the versioned image package that linux-image-amd64 depends on.

    Asks apt-cache (local lists only, about 1.5 s); the answer is remembered in the cache next to
    a signature of apt's package lists, so later runs skip apt-cache until `apt-get update`."""
    signature = _apt_lists_signature()
    memo = os.path.join(cache_root(), "linux-vm-package")
    try:
        with open(memo) as f:
            saved_signature, name, version = f.read().split()
        if signature and saved_signature == signature:
            return name, version
    except (OSError, ValueError):
        pass
    name, version = _kernel_package_from_apt()
    if signature:
        os.makedirs(cache_root(), exist_ok=True)
        with open(memo + ".tmp", "w") as f:
            f.write("%s %s %s\n" % (signature, name, version))
        os.replace(memo + ".tmp", memo)
    return name, version


def _kernel_package_from_apt():
    name = None
    for line in _apt_cache("depends", META_PACKAGE).splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            name = line.split()[1]
            break
    if not name:
        raise SystemExit("linux-vm: apt-cache knows no %s (run: apt-get update)" % META_PACKAGE)
    version = None
    for line in _apt_cache("policy", name).splitlines():
        line = line.strip()
        if line.startswith("Candidate:"):
            version = line.split()[1]
    if not version or version == "(none)":
        raise SystemExit("linux-vm: no candidate version for %s (run: apt-get update)" % name)
    return name, version


def key_inputs(name, version):
    with open(__file__, "rb") as f:
        own = hashlib.sha256(f.read()).hexdigest()
    return "%s\npackage: %s=%s\nbench/harness/linux_vm.py sha256: %s\n" % (FORMAT, name, version, own)


def cache_dir(name=None, version=None):
    if name is None:
        name, version = kernel_package()
    inputs = key_inputs(name, version)
    key = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    return os.path.join(cache_root(), "linux-vm-" + key), inputs


def bzimage_payload(data):
    """The compressed kernel inside a bzImage, located through the x86 boot protocol header."""
    if data[0x202:0x206] != b"HdrS":
        raise ValueError("not a bzImage (no HdrS boot header)")
    protocol = struct.unpack_from("<H", data, 0x206)[0]
    setup_sects = data[0x1F1] or 4
    pm_start = (setup_sects + 1) * 512
    if protocol >= 0x208:
        offset, length = struct.unpack_from("<II", data, 0x248)
        return data[pm_start + offset:pm_start + offset + length]
    # Older headers: scan for a known stream magic (xz, then zstd).
    for magic in (b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"):
        at = data.find(magic, pm_start)
        if at >= 0:
            return data[at:]
    raise ValueError("no compressed payload found in the bzImage")


def decompress(payload):
    """Debian's kernels use xz (bookworm) or zstd (later releases); both end with a 4-byte size."""
    if payload.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if payload.startswith(b"\x28\xb5\x2f\xfd"):
        if not shutil.which("zstd"):
            raise SystemExit("linux-vm: the kernel is zstd-compressed: apt-get install zstd")
        return subprocess.run(["zstd", "-dc"], input=payload[:-4], stdout=subprocess.PIPE, check=True).stdout
    if payload.startswith(b"\x1f\x8b"):
        import gzip
        return gzip.decompress(payload[:-4])
    raise ValueError("unknown kernel compression (magic %s)" % payload[:6].hex())


def elf_notes(elf):
    """(name, type, desc) of every note in the PT_NOTE segments of a 64-bit little-endian ELF."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF")
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    notes = []
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        at, end = p_offset, p_offset + p_filesz
        while at + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, at)
            name_at = at + 12
            desc_at = name_at + ((namesz + 3) & ~3)
            notes.append((elf[name_at:name_at + namesz].rstrip(b"\0").decode("latin-1"), ntype,
                          elf[desc_at:desc_at + descsz]))
            at = desc_at + ((descsz + 3) & ~3)
    return notes


XEN_ELFNOTE_PHYS32_ENTRY = 18


def pvh_entry(elf):
    for name, ntype, desc in elf_notes(elf):
        if name == "Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
            return struct.unpack_from("<I", desc)[0]
    return None


def build(directory, inputs, name, version):
    work = "%s.tmp.%d" % (directory, os.getpid())
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            log("apt-get download %s=%s" % (name, version))
            apt = ["apt-get", "download", "-q"]
            if os.getuid() == 0:  # root cannot hand the download to the _apt sandbox user
                apt += ["-o", "APT::Sandbox::User=root"]
            subprocess.run(apt + ["%s=%s" % (name, version)], cwd=tmp, check=True, stdout=sys.stderr)
            deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
            log("extracting /boot from %s" % deb)
            tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", os.path.join(tmp, deb)], stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", tmp, "--wildcards", "./boot/vmlinuz-*", "./boot/config-*"],
                           stdin=tar.stdout, check=True)
            if tar.wait() != 0:
                raise SystemExit("linux-vm: dpkg-deb failed on %s" % deb)
            boot = os.path.join(tmp, "boot")
            files = os.listdir(boot)
            vmlinuz = os.path.join(boot, [f for f in files if f.startswith("vmlinuz-")][0])
            shutil.copy(vmlinuz, os.path.join(work, "vmlinuz"))
            shutil.copy(os.path.join(boot, [f for f in files if f.startswith("config-")][0]),
                        os.path.join(work, "config"))
            extract_modules(os.path.join(tmp, deb), os.path.join(work, "modules"), NET_MODULES)
            extract_modules(os.path.join(tmp, deb), os.path.join(work, "modules-disk"), DISK_MODULES)
        with open(os.path.join(work, "vmlinuz"), "rb") as f:
            payload = bzimage_payload(f.read())
        log("decompressing the %d-byte payload" % len(payload))
        vmlinux = decompress(payload)
        entry = pvh_entry(vmlinux)
        if entry is None:
            raise SystemExit("linux-vm: the kernel has no Xen PVH note (type 18); QEMU -kernel cannot boot it as PVH")
        log("vmlinux: %d bytes, PVH entry 0x%x" % (len(vmlinux), entry))
        with open(os.path.join(work, "vmlinux"), "wb") as f:
            f.write(vmlinux)
        with open(os.path.join(work, "stamp"), "w") as f:
            f.write(inputs)
        os.rename(work, directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _module_depends(data):
    """The `depends=` entry of a module's .modinfo (comma-separated names, or none)."""
    at = data.find(b"\0depends=")
    if at < 0:
        return []
    value = data[at + 9:data.index(b"\0", at + 9)].decode()
    return [d.replace("-", "_") for d in value.split(",") if d]


def _read_modules(deb, wanted):
    """{name: uncompressed .ko} of the modules called `wanted` in the kernel package."""
    import tarfile
    found = {}
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=tar.stdout, mode="r|") as archive:
        for member in archive:
            base = os.path.basename(member.name)
            if not member.isfile() or not member.name.startswith("./lib/modules/") or ".ko" not in base:
                continue
            name, _, suffix = base.partition(".ko")
            if name.replace("-", "_") not in wanted:
                continue
            data = archive.extractfile(member).read()
            if suffix == ".xz":
                data = lzma.decompress(data)
            elif suffix == ".zst":
                data = subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
            elif suffix == ".gz":
                import gzip
                data = gzip.decompress(data)
            found[name.replace("-", "_")] = data
    if tar.wait() != 0:
        raise SystemExit("linux-vm: dpkg-deb failed on %s" % deb)
    return found


def extract_modules(deb, out_dir, names):
    """Copies the modules called `names` (any directory under /lib/modules), and the modules they
    depend on, out of the kernel package into out_dir, decompressed, and writes out_dir/order:
    their names, dependencies first. A name the package has no module of is taken as built in."""
    os.makedirs(out_dir)
    found = _read_modules(deb, set(names))
    while True:  # the dependencies' dependencies, until none is missing
        missing = {d for data in found.values() for d in _module_depends(data)} - set(found)
        more = _read_modules(deb, missing) if missing else {}
        if not more:
            break
        found.update(more)
    order = []

    def visit(name):
        if name in order or name not in found:
            return
        for dep in _module_depends(found[name]):
            visit(dep)
        order.append(name)
    for name in list(names) + sorted(found):
        visit(name)
    for name in order:
        with open(os.path.join(out_dir, name + ".ko"), "wb") as f:
            f.write(found[name])
    with open(os.path.join(out_dir, "order"), "w") as f:
        f.write("".join(n + "\n" for n in order))
    log("modules: %s" % (" ".join(order) or "none (built in)"))


def net_modules(directory, kind="modules"):
    """Paths of the network modules in load order (empty if the kernel has them built in)."""
    try:
        with open(os.path.join(directory, kind, "order")) as f:
            return [os.path.join(directory, kind, n.strip() + ".ko") for n in f if n.strip()]
    except OSError:
        return []


def disk_modules(directory):
    """Paths of the virtio-blk and EROFS modules (and their dependencies) in load order."""
    return net_modules(directory, "modules-disk")


def ensure(quiet=False):
    """The cache directory, built first if needed."""
    name, version = kernel_package()
    directory, inputs = cache_dir(name, version)
    if os.path.exists(os.path.join(directory, "stamp")):
        if not quiet:
            log("up to date: %s" % directory)
        return directory
    os.makedirs(cache_root(), exist_ok=True)
    with open(directory + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per key; a second caller waits, then finds the stamp
        if not os.path.exists(os.path.join(directory, "stamp")):
            shutil.rmtree(directory, ignore_errors=True)
            log("building %s (%s %s)" % (directory, name, version))
            build(directory, inputs, name, version)
    return directory


def main():
    if "--print-key" in sys.argv[1:]:
        print(cache_dir()[0])
    else:
        print(ensure())


if __name__ == "__main__":
    main()
