#!/usr/bin/env python3
"""Follows the README literally, as a newcomer would, and fails on the first difference.

1. Every Rust block has no hidden (`# `) lines: what the README shows is the whole program.
2. The first shell block's commands are the demo (started in step 3) and the test command
   `.ci/run` runs.
3. The blocks marked with an HTML comment `<!-- check: ... -->` (invisible when rendered) are run
   in order from the repository's root:
   * `background`: the sh block's command starts and keeps running (the demo receiver);
   * `log`: the text block's lines appear, in order, in the background command's output;
   * `output` or `output, exit N`: the sh block's commands run; the last one's standard output
     must be exactly the text block that follows, and its exit status N (default 0).
   Files the commands create (event.json) are removed afterwards.
4. "A complete receiver" is pasted into a new crate with the README's `[dependencies]` (verihook
   from this checkout), built, and run against Redis at $TEST_REDIS_URL: a signed Stripe event is
   processed once and parsed, a second copy of the program sharing Redis answers duplicate, and
   every start-up error the README quotes is printed exactly.

Needs Redis, port 3000 free (the README's demo port), and honours CARGO_TARGET_DIR.
"""

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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
README = os.path.join(ROOT, "README.md")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
BUILD_TIMEOUT = 900


def fail(message):
    print(f"readme-check: {message}", file=sys.stderr)
    sys.exit(1)


def blocks(text):
    """Each fenced block: (language, body, marker, section, line), in order."""
    found = []
    lines = text.split("\n")
    section = ""
    marker = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
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
            found.append((language, "\n".join(lines[start:i]), marker, section, start))
            marker = None
        elif line.strip():
            marker = None
        i += 1
    return found


def commands(sh):
    """The commands of a sh block: continuation lines joined, trailing comments kept (bash
    ignores them)."""
    result = []
    current = ""
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


def target_dir():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["target_directory"]


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
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.seen = 0  # lines already matched by `expect`

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
                if lines[position] == expected[matched]:
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

    def expect_prefix(self, prefix, timeout):
        """Waits until a line starting with `prefix` appears."""
        deadline = time.time() + timeout
        while not any(line.startswith(prefix) for line in self.lines()):
            if self.process.poll() is not None or time.time() > deadline:
                fail(f"no line starting with {prefix!r} in the output of "
                     f"`{self.process.args[-1]}`:\n" + "\n".join(self.lines()[-40:]))
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        os.unlink(self.log.name)


def run(command, env=None, cwd=ROOT, timeout=BUILD_TIMEOUT):
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=timeout,
    )


def check_no_hidden_lines(found):
    for language, body, _, section, line in found:
        if language.split(",")[0] != "rust":
            continue
        for offset, text in enumerate(body.split("\n")):
            if text == "#" or text.startswith("# "):
                fail(f"README line {line + offset + 1} ({section}): a hidden doctest line; "
                     "the README shows whole programs")
    print("readme-check: no hidden lines in the README's Rust blocks")


def check_first_block(found, demo_command):
    first = next(body for language, body, _, _, _ in found if language == "sh")
    first = commands(first)
    if len(first) != 2:
        fail(f"the first shell block should be the demo and the tests, found {first}")
    demo, tests = (c.split("#")[0].strip() for c in first)
    if demo != demo_command:
        fail(f"the first block's demo `{demo}` is not the walk-through's `{demo_command}`")
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    if not re.search(rf"^{re.escape(tests)}( <\s*/dev/null)?$", ci, re.M):
        fail(f"`.ci/run` does not run the README's test command `{tests}`")
    print(f"readme-check: the first block is the demo and `{tests}`, which .ci/run runs")


def untracked():
    out = run("git ls-files --others --exclude-standard", timeout=60).stdout
    return set(out.split("\n")) - {""}


def check_marked_blocks(found):
    if not port_free(3000):
        fail("port 3000 is taken: the README's demo listens there")
    before = untracked()
    background = None
    checked = 0
    try:
        for index, (language, body, marker, section, line) in enumerate(found):
            if not marker:
                continue
            checked += 1
            if marker == "background":
                (command,) = commands(body)
                print(f"readme-check: starting `{command}` in the background")
                background = Background(command)
            elif marker == "log":
                if background is None:
                    fail(f"README line {line}: a log block before any background command")
                expected = body.split("\n")
                # The first lines wait for the build; later ones only for a request.
                background.expect(expected, timeout=BUILD_TIMEOUT if background.seen == 0 else 30)
                print(f"readme-check: the receiver printed the {len(expected)} "
                      f"line(s) quoted at README line {line}")
            elif marker.startswith("output"):
                status = 0
                exit_match = re.search(r"exit (\d+)", marker)
                if exit_match:
                    status = int(exit_match.group(1))
                following = found[index + 1]
                if following[0] != "text":
                    fail(f"README line {line}: an output check needs a text block after it")
                *setup, last = commands(body)
                for command in setup:
                    done = run(command)
                    if done.returncode != 0:
                        fail(f"`{command}` exited {done.returncode}: {done.stderr[-2000:]}")
                done = run(last)
                expected = following[1]
                if done.stdout.rstrip("\n") != expected:
                    fail(f"README line {line}: `{last}` printed\n{done.stdout}\nbut the README "
                         f"quotes\n{expected}\n(standard error: {done.stderr[-2000:]})")
                if done.returncode != status:
                    fail(f"README line {line}: `{last}` exited {done.returncode}, "
                         f"the README says {status}")
                print(f"readme-check: README line {line}: output and exit status {status} "
                      "as quoted")
            else:
                fail(f"README line {line}: unknown check marker {marker!r}")
    finally:
        if background:
            background.stop()
        for path in untracked() - before:
            os.remove(os.path.join(ROOT, path))
    if checked < 8:
        fail(f"only {checked} marked blocks: the walk-through lost its checks")


def section_text(text, title):
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def check_complete_receiver(text, found, tools):
    section = section_text(text, "A complete receiver")
    program = next(body for language, body, _, title, _ in found
                   if title == "A complete receiver" and language.startswith("rust"))
    toml = next(body for language, body, _, _, _ in found if language == "toml")
    if not toml.startswith("[dependencies]"):
        fail("the README's toml block should be the [dependencies] lines")
    verihook = re.search(r'^verihook = \{ version = "[^"]+", (.*)\}$', toml, re.M)
    if not verihook:
        fail("the README's toml block has no `verihook = { version = ..., features = ... }` line")
    toml = toml.replace(verihook.group(0),
                        f'verihook = {{ path = {json.dumps(ROOT)}, {verihook.group(1)}}}')
    crate = tempfile.mkdtemp(prefix="readme-receiver-")
    processes = []
    try:
        os.makedirs(os.path.join(crate, "src"))
        with open(os.path.join(crate, "Cargo.toml"), "w") as f:
            f.write('[package]\nname = "readme-receiver"\nversion = "0.1.0"\n'
                    'edition = "2021"\n\n[workspace]\n\n' + toml + "\n")
        with open(os.path.join(crate, "src", "main.rs"), "w") as f:
            f.write(program + "\n")
        # The versions this checkout is tested with; cargo adds what the app alone needs.
        shutil.copy(os.path.join(ROOT, "Cargo.lock"), crate)
        env = dict(os.environ, CARGO_TARGET_DIR=tools["target"])
        print("readme-check: building the complete receiver as a new crate")
        built = run("cargo build --quiet", env=env, cwd=crate)
        if built.returncode != 0:
            fail(f"the README's complete receiver does not build:\n{built.stderr[-4000:]}")
        binary = os.path.join(tools["target"], "debug", "readme-receiver")

        secrets = {"STRIPE_WEBHOOK_SECRET": "whsec_readme_check_secret",
                   "GITHUB_WEBHOOK_SECRET": "readme-check-github-secret"}
        base = {k: v for k, v in os.environ.items()
                if k not in ("REDIS_URL", "PORT", *secrets)}

        def start(port):
            process = Background(binary, env=dict(base, **secrets, REDIS_URL=REDIS_URL,
                                                  PORT=str(port)))
            processes.append(process)
            process.expect([f"listening on http://127.0.0.1:{port}"], timeout=30)
            return process

        first_port, second_port = free_port(), free_port()
        first, second = start(first_port), start(second_port)
        event_id = f"evt_readme_{time.time_ns()}"
        send = (f"{tools['cli']} send --provider stripe --secret "
                f"{secrets['STRIPE_WEBHOOK_SECRET']} --id {event_id} --url "
                "http://127.0.0.1:{port}/webhooks/stripe")
        answer = run(send.format(port=first_port), timeout=60)
        if f'200 {{"outcome":"processed","key":"stripe:{event_id}"}}' not in answer.stdout:
            fail(f"the complete receiver did not process a signed event: {answer.stdout}")
        first.expect([f"invoice paid: 4200 eur ({event_id})"], timeout=10)
        answer = run(send.format(port=second_port), timeout=60)
        if f'200 {{"outcome":"duplicate","key":"stripe:{event_id}"}}' not in answer.stdout:
            fail(f"a second replica sharing Redis did not answer duplicate: {answer.stdout}")
        github = run(f"{tools['cli']} send --provider github --secret "
                     f"{secrets['GITHUB_WEBHOOK_SECRET']} --url "
                     f"http://127.0.0.1:{second_port}/webhooks/github", timeout=60)
        if '200 {"outcome":"processed","key":"github:sha256:' not in github.stdout:
            fail(f"the complete receiver did not process a GitHub push: {github.stdout}")
        # `verihook send`'s sample push, routed to its typed handler.
        second.expect(["pushed 59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5"], timeout=10)
        print("readme-check: the complete receiver routes each event to its typed handler once, "
              "and a second replica sharing Redis answers duplicate")

        # Each start-up error the README quotes, exactly.
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
            elif match := re.match(r"error: bad secret: the secret is (\d+) bytes", line):
                env["STRIPE_WEBHOOK_SECRET"] = "whsec_" + "x" * int(match.group(1))
            else:
                fail(f"the README quotes `{line}`, which this check does not know how to cause")
            done = run(binary, env=env, timeout=30)
            printed = done.stdout + done.stderr
            expected = line.split("(...)")[0]
            if done.returncode != 1 or not printed.startswith(expected) or \
                    printed.count("\n") != 1 or (expected == line and printed != line + "\n"):
                fail(f"the README quotes `{line}`; the program printed {printed!r} and exited "
                     f"{done.returncode}")
        print(f"readme-check: the {len(quoted)} start-up errors the README quotes are exact")
    finally:
        for process in processes:
            if isinstance(process, Background):
                process.stop()
            else:
                process.close()
        shutil.rmtree(crate, ignore_errors=True)


def main():
    with open(README) as f:
        text = f.read()
    found = blocks(text)
    check_no_hidden_lines(found)
    demo = next(commands(body)[0] for _, body, marker, _, _ in found if marker == "background")
    check_first_block(found, demo)
    target = target_dir()
    check_marked_blocks(found)
    # The walk-through built the CLI with `cargo run --features cli`.
    tools = {"target": target, "cli": os.path.join(target, "debug", "verihook")}
    if not os.path.exists(tools["cli"]):
        fail(f"the walk-through should have built {tools['cli']}")
    check_complete_receiver(text, found, tools)
    print("readme-check: the README works when followed literally")


if __name__ == "__main__":
    main()
