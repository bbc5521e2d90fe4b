#!/usr/bin/env python3
"""Checks the README and the guide (docs/*.md) the way a reader would use them.

1. Every Rust block is a whole program: no hidden (`# `) lines, a `fn main` or a test, and a
   ```toml block before it (the nearest one above it in the same file) whose [dependencies] are
   exactly the crates it needs: each version requirement is met by the version in the
   repository's Cargo.lock, each verihook feature exists, tokio has `signal` where the block
   waits for Ctrl-C, and a block that runs an Axum server stops on Ctrl-C.
2. Each Rust block is compiled in a scratch crate under $TMPDIR holding only the dependencies its
   toml block lists (verihook as a path dependency to this checkout, with the features listed)
   and a copy of the repository's Cargo.lock, so versions match. Blocks with the same
   dependencies share one crate (one bin, or one integration test, per block); every crate is
   checked with `cargo check --all-targets` in one shared target directory. A failure is
   reported at the file and line of the block.
3. Unless --compile-only:
   * the README's first shell block with two commands is the demo (the tour's background
     command) and the test command, which `.ci/run` runs;
   * the blocks marked with an HTML comment `<!-- check: ... -->` (invisible when rendered) are
     run in order, docs/tour.md first, from the repository's root, with the target directory's
     `debug` on PATH (so `verihook` is the CLI the tour built):
       - `background`: the sh block's command starts and keeps running (the demo receiver);
       - `log`: the text block's lines appear, in order, in the background command's output;
       - `output` or `output, exit N`: the sh block runs in one bash; its standard output must be
         exactly the text block that follows, and its exit status N (default 0);
   * the README's complete receiver is built from its crate and run against Redis at
     $TEST_REDIS_URL: a signed Stripe event is processed once and parsed, a second copy sharing
     Redis answers duplicate, a GitHub push reaches its handler, and every start-up error the
     README quotes is printed exactly, on one line.

Usage: scripts/guide-check.py [--compile-only] [--keep]
Honours CARGO_TARGET_DIR (the scratch crates use <target>/guide-check); the full run needs
Redis, port 3000 free and the workspace layout (`-p verihook-examples`, `-p verihook-cli`).
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
BUILD_TIMEOUT = 1800


def fail(message):
    print(f"guide-check: {message}", file=sys.stderr)
    sys.exit(1)


def say(message):
    print(f"guide-check: {message}", flush=True)


class Block:
    def __init__(self, path, language, body, marker, section, line):
        self.path = path  # relative to ROOT
        self.language = language
        self.body = body
        self.marker = marker
        self.section = section
        self.line = line  # the line of the block's first code line, 1-based
        self.deps = None  # the toml block's [dependencies], for Rust blocks

    @property
    def where(self):
        return f"{self.path}:{self.line}"

    @property
    def is_rust(self):
        return self.language.split(",")[0].strip() == "rust"

    @property
    def name(self):
        stem = re.sub(r"[^a-z0-9]+", "_", os.path.splitext(os.path.basename(self.path))[0].lower())
        return f"{stem}_{self.line}"


def blocks(path):
    """Each fenced block of a Markdown file, in order."""
    with open(os.path.join(ROOT, path)) as f:
        lines = f.read().split("\n")
    found, section, marker, i = [], "", None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not line.startswith("#!"):
            section = line.lstrip("#").strip()
        match = re.fullmatch(r"<!-- check: (.*) -->", line.strip())
        if match:
            marker = match.group(1)
            i += 1
            continue
        if line.startswith("```"):
            language = line[3:].strip()
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            found.append(Block(path, language, "\n".join(lines[start:i]), marker, section,
                               start + 1))
            marker = None
        elif line.strip():
            marker = None
        i += 1
    return found


def documents():
    """README.md, then docs/tour.md, then the other chapters by name."""
    docs = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    tour = [p for p in docs if p.endswith("tour.md")]
    return ["README.md"] + tour + [p for p in docs if p not in tour]


# ---------------------------------------------------------------------------------------------
# 1. Each Rust block and its dependencies


def lock_versions():
    with open(os.path.join(ROOT, "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    versions = {}
    for package in lock.get("package", []):
        versions.setdefault(package["name"], []).append(package["version"])
    return versions


def crate_features():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        manifest = tomllib.load(f)
    return manifest["package"]["name"], set(manifest.get("features", {}))


def matches(requirement, version):
    """Cargo's default (caret) requirement, as docs write it: "1", "0.8", "1.19", "^0.8.3"."""
    requirement = requirement.strip().lstrip("^")
    if not re.fullmatch(r"\d+(\.\d+){0,2}", requirement):
        return None  # another form: not checked here
    want = [int(x) for x in requirement.split(".")]
    have = [int(x) for x in re.match(r"\d+\.\d+\.\d+", version).group(0).split(".")]
    # The first non-zero component (or the last given) must be equal; the rest at least.
    significant = next((i for i, x in enumerate(want) if x != 0), len(want) - 1)
    if have[:significant + 1] != want[:significant + 1]:
        return False
    return have[:len(want)] >= want


def check_blocks(all_blocks, versions, features):
    """Lints every Rust block and attaches its [dependencies]."""
    problems = []
    by_file = {}
    for block in all_blocks:
        by_file.setdefault(block.path, []).append(block)
    for path, found in by_file.items():
        toml = None
        for block in found:
            if block.language == "toml":
                toml = block
                continue
            if not block.is_rust:
                continue
            body = block.body
            for offset, text in enumerate(body.split("\n")):
                if text == "#" or text.startswith("# "):
                    problems.append(f"{path}:{block.line + offset}: a hidden doctest line; "
                                    "examples show whole programs")
            if not re.search(r"\bfn main\s*\(", body) and not re.search(r"#\[(tokio::)?test", body):
                problems.append(f"{block.where}: neither a `fn main` nor a test")
            if toml is None:
                problems.append(f"{block.where}: no ```toml [dependencies] block before it")
                continue
            try:
                deps = tomllib.loads(toml.body)["dependencies"]
            except (tomllib.TOMLDecodeError, KeyError) as err:
                problems.append(f"{toml.where}: not a [dependencies] table: {err}")
                continue
            block.deps = deps
            for name, spec in deps.items():
                spec = {"version": spec} if isinstance(spec, str) else spec
                package = spec.get("package", name)
                if package == "verihook":
                    unknown = set(spec.get("features", [])) - features
                    if unknown:
                        problems.append(f"{toml.where}: verihook has no feature {sorted(unknown)}")
                    continue
                if package not in versions:
                    problems.append(f"{toml.where}: {name} is not in Cargo.lock")
                    continue
                requirement = spec.get("version", "")
                results = [matches(requirement, v) for v in versions[package]]
                if None not in results and not any(results):
                    problems.append(f"{toml.where}: {name} = \"{requirement}\", but Cargo.lock "
                                    f"has {', '.join(versions[package])}")
            used = set(re.findall(r"\b([a-z_][a-z0-9_]*)::", body))
            crates = {n.replace("-", "_") for n in deps}
            for name in sorted(crates):
                if name not in used and not re.search(rf"#\[{name}\b|\b{name}::|use {name}\b",
                                                       body) and name != "serde":
                    problems.append(f"{block.where}: {name} is listed but not used")
            if "serde" in crates and "serde::" not in body:
                problems.append(f"{block.where}: serde is listed but not used")
            for name in ("tokio", "axum", "serde_json", "sqlx", "tracing_subscriber", "hmac",
                         "sha2", "const_hex", "actix_web", "metrics_exporter_prometheus", "serde"):
                if re.search(rf"\b{name}::", body) and name not in crates:
                    problems.append(f"{block.where}: uses {name} without listing it")
            tokio = deps.get("tokio")
            tokio_features = set(tokio.get("features", [])) if isinstance(tokio, dict) else set()
            if "tokio::signal" in body and "signal" not in tokio_features:
                problems.append(f"{block.where}: waits for Ctrl-C without tokio's `signal`")
            if "axum::serve" in body:
                if "ctrl_c" not in body or "with_graceful_shutdown" not in body:
                    problems.append(f"{block.where}: an Axum server that does not stop on Ctrl-C")
                if "no_run" not in block.language:
                    problems.append(f"{block.where}: a server block without `no_run`")
    if problems:
        fail("the docs' Rust blocks:\n  " + "\n  ".join(problems))
    rust = [b for b in all_blocks if b.is_rust]
    say(f"{len(rust)} Rust blocks are whole programs after the dependencies they need")
    return rust


# ---------------------------------------------------------------------------------------------
# 2. Compile each block in a crate of its own dependencies


def target_dir():
    if os.environ.get("CARGO_TARGET_DIR"):
        return os.path.abspath(os.environ["CARGO_TARGET_DIR"])
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["target_directory"]


def manifest(name, deps):
    lines = [f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\npublish = false',
             "", "[workspace]", "", "[dependencies]"]
    for dep, spec in sorted(deps.items()):
        spec = {"version": spec} if isinstance(spec, str) else dict(spec)
        if spec.get("package", dep) == "verihook":
            spec.pop("version", None)
            spec["path"] = ROOT
        fields = ", ".join(f"{k} = {json.dumps(v)}" for k, v in spec.items())
        lines.append(f"{dep} = {{ {fields} }}")
    return "\n".join(lines) + "\n"


def scratch_crates(rust, base):
    """One crate per set of dependencies; returns [(dir, {source path: block})]."""
    groups = {}
    for block in rust:
        key = json.dumps(block.deps, sort_keys=True)
        groups.setdefault(key, []).append(block)
    crates = []
    for key, members in groups.items():
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        crate = os.path.join(base, f"guide-{digest}")
        os.makedirs(os.path.join(crate, "src", "bin"), exist_ok=True)
        os.makedirs(os.path.join(crate, "tests"), exist_ok=True)
        # Only this run's blocks: stale files from an older run would be checked too.
        for old in glob.glob(os.path.join(crate, "src", "bin", "*.rs")) + \
                glob.glob(os.path.join(crate, "tests", "*.rs")):
            os.remove(old)
        write(os.path.join(crate, "Cargo.toml"), manifest(f"guide-{digest}", members[0].deps))
        write(os.path.join(crate, "src", "lib.rs"), "")
        lock = os.path.join(crate, "Cargo.lock")
        if not os.path.exists(lock):
            shutil.copy(os.path.join(ROOT, "Cargo.lock"), lock)
        sources = {}
        for block in members:
            is_test = not re.search(r"\bfn main\s*\(", block.body)
            path = os.path.join(crate, "tests" if is_test else os.path.join("src", "bin"),
                                f"{block.name}.rs")
            write(path, block.body + "\n")
            sources[os.path.realpath(path)] = block
        crates.append((crate, sources))
    return crates


def write(path, text):
    """Writes only when the text changed, so cargo's fingerprints hold on a warm run."""
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    with open(path, "w") as f:
        f.write(text)


def compile_blocks(rust):
    base = os.path.join(tempfile.gettempdir(), "verihook-guide-check")
    os.makedirs(base, exist_ok=True)
    target = os.path.join(target_dir(), "guide-check")
    crates = scratch_crates(rust, base)
    say(f"compiling {len(rust)} blocks in {len(crates)} crates (one per set of dependencies), "
        f"target {target}")
    failures = []
    started = time.time()
    for crate, sources in crates:
        env = dict(os.environ, CARGO_TARGET_DIR=target)
        done = subprocess.run(
            ["nice", "cargo", "check", "--all-targets", "--quiet", "--message-format=json"],
            cwd=crate, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=BUILD_TIMEOUT)
        errors = []
        for line in done.stdout.splitlines():
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if message.get("reason") != "compiler-message":
                continue
            diagnostic = message["message"]
            if diagnostic.get("level") not in ("error", "error: internal compiler error"):
                continue
            block = sources.get(os.path.realpath(message["target"]["src_path"]))
            span = next((s for s in diagnostic.get("spans", []) if s.get("is_primary")), None)
            if block is None:
                where = message["target"]["src_path"]
            elif span:
                where = f"{block.path}:{block.line + span['line_start'] - 1}"
            else:
                where = block.where
            error = f"{where}: {diagnostic['rendered'].rstrip()}"
            if error not in errors:  # a bin is checked twice (as a bin and as a test)
                errors.append(error)
        if done.returncode != 0:
            if not errors:
                errors.append(f"{crate}: cargo check failed:\n{done.stderr[-3000:]}")
            failures.extend(errors)
            blocks_here = ", ".join(sorted(b.where for b in sources.values()))
            say(f"FAILED: {blocks_here}")
        else:
            say(f"ok: {', '.join(sorted(b.where for b in sources.values()))}")
    elapsed = time.time() - started
    if failures:
        fail(f"{len(failures)} compile errors ({elapsed:.0f} s):\n\n" + "\n\n".join(failures))
    say(f"all {len(rust)} blocks compile ({elapsed:.0f} s)")


# ---------------------------------------------------------------------------------------------
# 3. The walk-through and the complete receiver, run


def commands(sh):
    """The commands of a sh block: continuation lines joined, comment lines dropped."""
    result, current = [], ""
    for line in sh.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        result.append(current + line)
        current = ""
    if current:
        result.append(current)
    return result


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Background:
    """A command left running, its output collected in a file."""

    def __init__(self, command, env=None, cwd=ROOT):
        self.log = tempfile.NamedTemporaryFile("w+", delete=False, suffix=".log")
        self.process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=cwd, env=env, stdout=self.log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.seen = 0

    def lines(self):
        with open(self.log.name, errors="replace") as f:
            return f.read().split("\n")

    def expect(self, expected, timeout):
        """Waits until `expected` lines appear in order after those matched before."""
        deadline = time.time() + timeout
        while True:
            lines = self.lines()
            position, matched = self.seen, 0
            while position < len(lines) and matched < len(expected):
                # A `tracing` line is compared without the time it starts with.
                line = re.sub(r"^\d{4}-\d\d-\d\dT[0-9:.]+Z\s+", "", lines[position])
                if line == expected[matched]:
                    matched += 1
                position += 1
            if matched == len(expected):
                self.seen = position
                return
            if self.process.poll() is not None or time.time() > deadline:
                shown = "\n".join(lines[-40:])
                fail(f"expected the line\n  {expected[matched]}\nin the output of "
                     f"`{self.process.args[-1]}`, which was:\n{shown}")
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C, as the docs say
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        os.unlink(self.log.name)


def run(command, env=None, cwd=ROOT, timeout=BUILD_TIMEOUT):
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def check_first_block(readme, demo_command):
    first = next((commands(b.body) for b in readme if b.language == "sh"
                  and len(commands(b.body)) == 2), None)
    if first is None:
        fail("README.md: no shell block with the demo and the test command")
    demo, tests = (c.split("#")[0].strip() for c in first)
    if demo != demo_command:
        fail(f"README.md: the demo `{demo}` is not the tour's `{demo_command}`")
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    if not re.search(rf"^{re.escape(tests)}( <\s*/dev/null)?$", ci, re.M):
        fail(f"`.ci/run` does not run the README's test command `{tests}`")
    say(f"the README's commands are the tour's demo and `{tests}`, which .ci/run runs")


def check_marked_blocks(all_blocks, target):
    if not port_free(3000):
        fail("port 3000 is taken: the tour's demo listens there")
    env = dict(os.environ, PATH=os.path.join(target, "debug") + os.pathsep + os.environ["PATH"])
    background, checked = None, 0
    try:
        for index, block in enumerate(all_blocks):
            marker = block.marker
            if not marker:
                continue
            checked += 1
            if marker == "background":
                (command,) = commands(block.body)
                say(f"starting `{command}` in the background")
                background = Background(command, env=env)
            elif marker == "log":
                if background is None:
                    fail(f"{block.where}: a log block before any background command")
                expected = block.body.split("\n")
                background.expect(expected, timeout=BUILD_TIMEOUT if background.seen == 0 else 30)
                say(f"{block.where}: the receiver printed the {len(expected)} line(s) quoted")
            elif marker.startswith("output"):
                exit_match = re.search(r"exit (\d+)", marker)
                status = int(exit_match.group(1)) if exit_match else 0
                following = all_blocks[index + 1] if index + 1 < len(all_blocks) else None
                if following is None or following.language != "text" or \
                        following.path != block.path:
                    fail(f"{block.where}: an output check needs a text block after it")
                done = run(block.body, env=env)
                if done.stdout.rstrip("\n") != following.body:
                    fail(f"{block.where}: the block printed\n{done.stdout}\nbut the docs quote\n"
                         f"{following.body}\n(standard error: {done.stderr[-2000:]})")
                if done.returncode != status:
                    fail(f"{block.where}: exited {done.returncode}, the docs say {status}")
                say(f"{block.where}: output and exit status {status} as quoted")
            else:
                fail(f"{block.where}: unknown check marker {marker!r}")
    finally:
        if background:
            background.stop()
    if checked < 8:
        fail(f"only {checked} marked blocks: the walk-through lost its checks")


def check_complete_receiver(readme_text, readme, target):
    section = readme_text[readme_text.index("## A complete receiver\n"):]
    section = section[:section.find("\n## ", 1)]
    program = next(b for b in readme if b.section == "A complete receiver" and b.is_rust)
    crate = tempfile.mkdtemp(prefix="guide-receiver-")
    processes = []
    # The receiver's idempotency keys in Redis are deleted afterwards: those this run made.
    redis_keys = lambda: set(subprocess.run(
        ["redis-cli", "-u", REDIS_URL, "--scan", "--pattern", "verihook:*"],
        capture_output=True, text=True).stdout.split())
    keys_before = redis_keys()
    try:
        os.makedirs(os.path.join(crate, "src"))
        write(os.path.join(crate, "Cargo.toml"),
              manifest("guide-receiver", program.deps).replace('version = "0.0.0"',
                                                                'version = "0.1.0"'))
        write(os.path.join(crate, "src", "main.rs"), program.body + "\n")
        shutil.copy(os.path.join(ROOT, "Cargo.lock"), crate)
        env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(target, "guide-check"))
        say("building the README's complete receiver as a new crate")
        built = run("nice cargo build --quiet", env=env, cwd=crate)
        if built.returncode != 0:
            fail(f"the README's complete receiver does not build:\n{built.stderr[-4000:]}")
        binary = os.path.join(target, "guide-check", "debug", "guide-receiver")
        cli = os.path.join(target, "debug", "verihook")
        if not os.path.exists(cli):
            fail(f"the tour should have built {cli}")

        secrets = {"STRIPE_WEBHOOK_SECRET": "whsec_guide_check_secret",
                   "GITHUB_WEBHOOK_SECRET": "guide-check-github-secret"}
        base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PORT", *secrets)}

        def start(port):
            process = Background(binary, env=dict(base, **secrets, REDIS_URL=REDIS_URL,
                                                  PORT=str(port)))
            processes.append(process)
            process.expect([f"listening on http://127.0.0.1:{port}"], timeout=30)
            return process

        first_port, second_port = free_port(), free_port()
        first, second = start(first_port), start(second_port)
        event_id = f"evt_guide_{time.time_ns()}"
        send = (f"{cli} send --provider stripe --secret {secrets['STRIPE_WEBHOOK_SECRET']} "
                f"--id {event_id} --url http://127.0.0.1:{{port}}/webhooks/stripe")
        answer = run(send.format(port=first_port), timeout=60)
        if f'200 {{"outcome":"processed","key":"stripe:{event_id}"}}' not in answer.stdout:
            fail(f"the complete receiver did not process a signed event: {answer.stdout}")
        first.expect([f"invoice paid: 4200 eur ({event_id})"], timeout=10)
        answer = run(send.format(port=second_port), timeout=60)
        if f'200 {{"outcome":"duplicate","key":"stripe:{event_id}"}}' not in answer.stdout:
            fail(f"a second replica sharing Redis did not answer duplicate: {answer.stdout}")
        github = run(f"{cli} send --provider github --secret {secrets['GITHUB_WEBHOOK_SECRET']} "
                     f"--url http://127.0.0.1:{second_port}/webhooks/github", timeout=60)
        if '200 {"outcome":"processed","key":"github:sha256:' not in github.stdout:
            fail(f"the complete receiver did not process a GitHub push: {github.stdout}")
        second.expect(["pushed 59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5"], timeout=10)
        say("the complete receiver routes each event to its typed handler once, and a second "
            "replica sharing Redis answers duplicate")

        # The README promises one log line per failure: a wrongly signed event is one.
        forged = run(f"{cli} send --provider stripe --secret whsec_not_the_guide_secret "
                     f"--url http://127.0.0.1:{first_port}/webhooks/stripe", timeout=60)
        if "401" not in forged.stdout:
            fail(f"the complete receiver did not refuse a wrongly signed event: {forged.stdout}")
        wanted = 'webhook rejected sender="stripe" code="bad_signature" status=401'
        deadline = time.time() + 10
        # tracing-subscriber colours its fields, even into a file.
        plain = lambda: [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in first.lines()]
        while not any(wanted in line for line in plain()):
            if time.time() > deadline:
                fail(f"the complete receiver logged no line with `{wanted}` for a wrongly signed "
                     "event:\n" + "\n".join(first.lines()[-20:]))
            time.sleep(0.2)
        say("the complete receiver logs a wrongly signed event in one line")

        quoted = re.findall(r"`(error: [^`]*)`", section.replace("\n", " "))
        if len(quoted) < 4:
            fail(f"expected the README to quote four start-up errors, found {quoted}")
        for line in quoted:
            env = dict(base, **secrets, REDIS_URL=REDIS_URL)
            if line == "error: REDIS_URL is not set":
                env.pop("REDIS_URL")
            elif match := re.match(r"error: cannot connect to Redis at (\S+): ", line):
                env["REDIS_URL"] = match.group(1)
            elif match := re.match(r"error: cannot listen on 127\.0\.0\.1:(\d+): ", line):
                env["PORT"] = match.group(1)
                blocker = socket.socket()
                blocker.bind(("127.0.0.1", int(match.group(1))))
                blocker.listen()
                processes.append(blocker)
            elif match := re.match(r"error: stripe: bad secret: the secret is (\d+) bytes", line):
                env["STRIPE_WEBHOOK_SECRET"] = "whsec_" + "x" * int(match.group(1))
            elif line.startswith("error: stripe: bad secret: this is a Stripe API key"):
                env["STRIPE_WEBHOOK_SECRET"] = "sk_live_" + "x" * 24
            else:
                fail(f"the README quotes `{line}`, which this check does not know how to cause")
            done = run(binary, env=env, timeout=30)
            printed = done.stdout + done.stderr
            expected = line.split("(...)")[0]
            if done.returncode != 1 or not printed.startswith(expected) or \
                    printed.count("\n") != 1 or (expected == line and printed != line + "\n"):
                fail(f"the README quotes `{line}`; the program printed {printed!r} and exited "
                     f"{done.returncode}")
        say(f"the {len(quoted)} start-up errors the README quotes are exact")
    finally:
        for process in processes:
            if isinstance(process, Background):
                process.stop()
            else:
                process.close()
        shutil.rmtree(crate, ignore_errors=True)
        made = sorted(k for k in redis_keys() - keys_before
                      if k.startswith(("verihook:stripe:", "verihook:github:")))
        if made:
            subprocess.run(["redis-cli", "-u", REDIS_URL, "DEL", *made], capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compile-only", action="store_true",
                        help="lint and compile every Rust block; run nothing")
    parser.add_argument("--keep", action="store_true",
                        help="say where the scratch crates are (they are kept for warm runs)")
    args = parser.parse_args()

    all_blocks = [b for path in documents() for b in blocks(path)]
    name, features = crate_features()
    if name != "verihook":
        fail(f"run from the verihook repository (found package {name})")
    rust = check_blocks(all_blocks, lock_versions(), features)
    compile_blocks(rust)
    if args.keep:
        say(f"scratch crates: {os.path.join(tempfile.gettempdir(), 'verihook-guide-check')}")
    if args.compile_only:
        return

    target = target_dir()
    readme = [b for b in all_blocks if b.path == "README.md"]
    demo = next((commands(b.body)[0] for b in all_blocks if b.marker == "background"), None)
    if demo is None:
        fail("docs/tour.md starts no demo (`<!-- check: background -->`)")
    check_first_block(readme, demo)
    check_marked_blocks(all_blocks, target)
    with open(os.path.join(ROOT, "README.md")) as f:
        check_complete_receiver(f.read(), readme, target)
    say("the README and the guide work when followed literally")


if __name__ == "__main__":
    main()
