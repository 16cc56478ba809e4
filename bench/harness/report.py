"""bench/run's report: a Markdown table, PNG charts (gnuplot) and the table in bench/README.md."""
import os
import shutil
import subprocess
import tempfile

TARGETS = [("xos", "xos"), ("linux-vm", "Linux VM"), ("native", "native"), ("floor", "QEMU floor")]
RATIOS = [("xos/linux-vm", "xos ÷ Linux VM"), ("xos/native", "xos ÷ native"), ("xos/floor", "xos ÷ floor"),
          ("linux-vm/floor", "Linux VM ÷ floor")]
README_BEGIN = "<!-- bench/run: latest figures (generated; edit bench/harness/report.py instead) -->"
README_END = "<!-- bench/run: end of latest figures -->"


def _num(value, unit):
    if unit == "bytes":
        if value >= 1 << 20:
            return "%.1f MiB" % (value / (1 << 20))
        return "%.0f KiB" % (value / 1024)
    if value >= 100:
        return "%.0f" % value
    if value >= 10:
        return "%.1f" % value
    return "%.2f" % value


def _cell(entry, unit):
    if not entry:
        return "–"
    text = _num(entry["median"], unit)
    if "min" in entry and entry.get("runs", 1) > 1:
        text += " (%s–%s)" % (_num(entry["min"], unit), _num(entry["max"], unit))
    return text


def _ratio(entry):
    if not entry:
        return "–"
    if entry["median"] >= 100:
        text = "%.0f" % entry["median"]
    else:
        text = "%.3g" % entry["median"]
    if "min" in entry and entry.get("runs", 1) > 1:
        text += " (%.3g–%.3g)" % (entry["min"], entry["max"])
    return text


def header(env):
    line = "Measured %s on %s (%s, %s CPUs), accelerator **%s**, %s; median (min–max) of %s runs, load average %s." % (
        env["date"], env["host"] or "host", env["cpu"] or "x86_64", env["cpus"], env["accel"], env["qemu"],
        env["runs"], env["load"])
    if env.get("kernel"):
        line += " Linux VM: Debian %s, command line `%s`." % (env["kernel"], env["linux_cmdline"])
    return line


def table(figures):
    lines = ["| figure | unit | " + " | ".join(l for _, l in TARGETS) + " | " + " | ".join(l for _, l in RATIOS) + " |",
             "|---|---|" + "---|" * (len(TARGETS) + len(RATIOS))]
    for fig in figures:
        row = [fig["label"], fig["unit"]]
        row += [_cell(fig["targets"].get(t), fig["unit"]) for t, _ in TARGETS]
        row += [_ratio(fig["ratios"].get(r)) for r, _ in RATIOS]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def notes(figures):
    out = []
    for fig in figures:
        if fig["figure"] == "size":
            for t, entry in fig["targets"].items():
                out.append("- size, %s: %s" % (t, ", ".join("%s %s bytes" % (k, format(v, ","))
                                                           for k, v in entry["all"].items())))
    return out


def markdown(figures, env, charts):
    parts = ["# xos vs a Linux microVM vs native Linux", "", header(env), "", table(figures), "",
             "Ratios are medians of per-round ratios (each round runs the targets back to back); "
             "below 1 means xos is smaller or faster.", ""]
    parts += notes(figures)
    parts += ["", "QEMU for xos and the floor (xos-run's): `%s`" % env["machine"]]
    if env.get("linux_machine"):
        parts += ["", "QEMU for the Linux VM (the same, with ACPI for its power-off): `%s`" % env["linux_machine"]]
    parts += [""]
    for chart in charts:
        parts.append("![%s](%s)" % (chart, chart))
    return "\n".join(parts) + "\n"


def update_readme(path, figures, env, charts):
    with open(path) as f:
        text = f.read()
    block = "\n".join([README_BEGIN, "", header(env), "", table(figures), ""] +
                      ["![%s](results/%s)" % (c, c) for c in charts] + ["", README_END])
    if README_BEGIN in text and README_END in text:
        start = text.index(README_BEGIN)
        end = text.index(README_END) + len(README_END)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------

def ensure_gnuplot(progress):
    if shutil.which("gnuplot"):
        return True
    progress("installing gnuplot-nox (Debian) for the charts")
    if os.getuid() != 0:
        progress("not root: cannot install gnuplot-nox; skipping charts (apt-get install gnuplot-nox)")
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "gnuplot-nox"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        result = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "gnuplot-nox"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return result.returncode == 0 and shutil.which("gnuplot") is not None


def _bar_chart(out_path, title, ylabel, groups, series, logscale):
    """groups: [(group label, {series key: entry})]; series: [(key, label)]. Bars with min-max whiskers."""
    series = [(k, l) for k, l in series if any(k in g for _, g in groups)]
    if not series or not groups:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        with open(data, "w") as f:
            for label, entries in groups:
                cols = ['"%s"' % label]
                for key, _ in series:
                    e = entries.get(key)
                    if e:
                        cols += ["%g" % e["median"], "%g" % e.get("min", e["median"]), "%g" % e.get("max", e["median"])]
                    else:
                        cols += ["NaN", "NaN", "NaN"]
                f.write(" ".join(cols) + "\n")
        plots = []
        for i, (_, label) in enumerate(series):
            c = 2 + 3 * i
            xtic = ":xtic(1)" if i == 0 else ""
            plots.append("'%s' using %d:%d:%d%s title '%s'" % (data, c, c + 1, c + 2, xtic, label))
        script = "\n".join([
            "set terminal pngcairo size 900,500 font 'sans,10'",
            "set output '%s'" % out_path,
            "set title '%s'" % title,
            "set ylabel '%s'" % ylabel,
            "set style data histograms",
            "set style histogram errorbars gap 2 lw 1",
            "set style fill solid 0.8 border -1",
            "set key top left",
            "set grid ytics",
            "set logscale y" if logscale else "set yrange [0:*]",
            "plot " + ", ".join(plots),
        ])
        result = subprocess.run(["gnuplot"], input=script, text=True, stderr=subprocess.PIPE)
        if result.returncode != 0:
            raise RuntimeError("gnuplot failed: " + result.stderr)
    return True


def charts(figures, results_dir, progress):
    if not ensure_gnuplot(progress):
        return []
    by_name = {f["figure"]: f for f in figures}
    series = [(t, l) for t, l in TARGETS]
    made = []
    boot = [(by_name[k]["label"].replace("boot: ", ""), by_name[k]["targets"]) for k in ("boot.first_line", "boot.exit")
            if k in by_name]
    if _bar_chart(os.path.join(results_dir, "boot.png"), "Boot of hello (wall time, median with min-max)",
                  "ms (log scale)", boot, series, True):
        made.append("boot.png")
    short = {"syscall.getppid": "getppid()", "syscall.clock_gettime": "clock_gettime()", "loop.empty": "empty loop"}
    calls = [(short[k], by_name[k]["targets"]) for k in short if k in by_name]
    if _bar_chart(os.path.join(results_dir, "syscall.png"),
                  "Cost of one call inside each guest (timed by the host clock)",
                  "ns per call (log scale)", calls, series, True):
        made.append("syscall.png")
    foot = []
    if "size" in by_name:
        foot.append(("image size (MiB)", {t: {"median": e["median"] / (1 << 20)} for t, e in by_name["size"]["targets"].items()}))
    if "memory.min" in by_name:
        foot.append(("smallest -m (MiB)", by_name["memory.min"]["targets"]))
    if _bar_chart(os.path.join(results_dir, "footprint.png"), "Footprint of hello", "MiB (log scale)", foot,
                  series, True):
        made.append("footprint.png")
    progress("charts: " + ", ".join(made))
    return made
