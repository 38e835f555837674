"""`python -m annotate`: serve the labelling app for a workspace on 127.0.0.1.

    python -m annotate add-user --users ws/users.toml alice [--admin]   # asks for the password twice
    python -m annotate -w ws                                             # pairwise; users from ws/users.toml
    python -m annotate -w ws --task kto --overlap 3 --guidelines guide.md --port 7861
    python -m annotate -w ws --task rate [--rubric my-rubric.yaml]   # rate answers on HelpSteer2's 5 aspects (0-4)
    python -m annotate -w ws --task arena --overlap 3   # blind votes on model versions (`generate --arena`)
    python -m annotate -w ws --task rank --overlap 2    # rank the k = 3-6 answers of one prompt (`generate --n 4`)
    python -m annotate -w ws --order uncertainty  # least certain pairs first (after `python -m train score`)
    python -m annotate -w ws --order machine-uncertain --suggest  # machine labellers unsure first; show their pick
    python -m annotate -w demo-ws --demo-user     # user `demo` (admin) for this run, a fresh password printed once
    python -m annotate hash-password              # a hash to paste into a users file by hand

Labels are appended to WS/labels/ as they are made; stopping and restarting the app loses nothing, and signed-in
labellers stay signed in (sessions are signed with WS/session.key). Sign-in is throttled (--login-* flags).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import math
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from annotate.empty_queue import nothing_to_label
from annotate.holdings import ViewLock
from annotate.items import VIEWS
from annotate.service import ORDERS, LabelService, check_gold_rate
from annotate.users import Authenticator, LoginLimits, User, add_user, hash_password, load_users
from data.cli import options_parser, run_cli
from data.config import build
from data.errors import PrefloopError, counted, number_shown
from data.files import refuse_unwritable
from data.in_place import let_go
from data.rubric import load_rubric
from data.selection import latest_scorer, uncertainty_margins
from data.workspace import HOLDINGS_FOLDER, Workspace

DEMO_USER = "demo"


@dataclass(frozen=True)
class AnnotateOptions:
    workspace: Path = field(
        default=Path("ws"), metadata={"metavar": "WS", "help": "workspace directory (default: ws)"}
    )
    task: str = field(
        default="pairwise",
        metadata={
            "help": "what to label (rate: one answer on a rubric's aspects, see --rubric; arena: the arena's "
            "pairs, blind, as pairwise labels)",
            "choices": VIEWS,
        },
    )
    rubric: Path | None = field(
        default=None,
        metadata={
            "metavar": "FILE",
            "help": "task rate: a rubric YAML file (name; aspects, each with name, scale [low, high] and a "
            "one-line description); default: configs/rubrics/helpsteer2.yaml, HelpSteer2's helpfulness, "
            "correctness, coherence, complexity and verbosity, each 0-4",
        },
    )
    host: str = field(
        default="127.0.0.1",
        metadata={"metavar": "ADDR", "help": "address to listen on (loopback by default)"},
    )
    port: int = field(default=7860, metadata={"help": "port to listen on"})
    users: Path | None = field(
        default=None, metadata={"metavar": "FILE", "help": "users TOML file (default: WS/users.toml)"}
    )
    overlap: int = field(default=1, metadata={"help": "labellers per item (K); 2+ measures agreement"})
    lease_minutes: float = field(
        default=10.0, metadata={"help": "how long an item on someone's screen is kept from others"}
    )
    order: str = field(
        default="round",
        metadata={
            "help": "queue order: round (oldest round first), newest (newest round first), uncertainty "
            "(pairs the current model is least sure about first; run `python -m train score` before), "
            "machine-uncertain (pairs where judges / reward models disagree or are least confident first)",
            "choices": tuple(ORDERS),
        },
    )
    suggest: bool = field(
        default=False,
        metadata={
            "help": "show the machine labellers' pick beside a pair (hidden on a random 20% so that "
            "`python -m data stats` can measure how much labellers follow it)"
        },
    )
    gold_rate: float = field(
        default=0.05,
        metadata={
            "help": "share of each labeller's items that are gold (items of the task with a known answer: a "
            "choice, a ranking or ratings, `python -m data gold`), in [0, 0.5]; never the same gold item twice to "
            "one person"
        },
    )
    guidelines: Path | None = field(
        default=None, metadata={"metavar": "FILE", "help": "Markdown file shown beside the item"}
    )
    demo_user: bool = field(
        default=False,
        metadata={"help": "an admin user `demo` for this run only, with a fresh password (printed once)"},
    )
    session_idle_minutes: float = field(
        default=120.0, metadata={"help": "sign a labeller out after this long without an action"}
    )
    login_attempts: int = field(
        default=10, metadata={"help": "wrong passwords for one user name before it is locked out"}
    )
    login_address_attempts: int = field(
        default=50,
        metadata={
            "help": "wrong passwords from one client address before its wrong answers slow down (an address is "
            "never locked out: a labeller behind the same proxy still signs in)"
        },
    )
    login_lockout_minutes: float = field(
        default=15.0, metadata={"help": "how long a lock-out lasts (older failures are forgotten)"}
    )
    login_backoff: float = field(
        default=1.0,
        metadata={"help": "seconds a name waits after its first wrong password, doubling after each"},
    )

    trusted_proxy: str | None = field(
        default=None,
        metadata={
            "metavar": "ADDR",
            "help": "IP address (or network; several comma-separated) of the reverse proxy whose X-Forwarded-For "
            "names the client; without it the header is ignored",
        },
    )

    def login_limits(self) -> LoginLimits:
        for name in (
            "session_idle_minutes",
            "login_attempts",
            "login_address_attempts",
            "login_lockout_minutes",
        ):
            if not 0 < getattr(self, name) < math.inf:
                raise PrefloopError(
                    f"--{name.replace('_', '-')} {number_shown(getattr(self, name))}: must be a finite number > 0"
                )
        # nan passed `<= 0` and `< 0`: a session never idled out, a wrong password never locked a name out
        if not 0 <= self.login_backoff < math.inf:
            raise PrefloopError(
                f"--login-backoff {number_shown(self.login_backoff)}: must be a finite number >= 0"
            )
        lockout = 60 * self.login_lockout_minutes
        return LoginLimits(self.login_attempts, self.login_address_attempts, lockout, self.login_backoff)


def build_parser(prog: str = "python -m annotate") -> argparse.ArgumentParser:
    return options_parser(AnnotateOptions, prog, __doc__)


PASSWORD_STDIN = (
    "read the password from the first line of stdin (its line end, \\n or \\r\\n, is not part of it)"
)


@dataclass(frozen=True)
class AddUserOptions:
    name: str = field(default="", metadata={"help": "labeller name", "positional": True})
    users: Path = field(
        default=Path("users.toml"),
        metadata={"metavar": "FILE", "help": "users TOML file (created if missing)", "required": True},
    )
    admin: bool = field(default=False, metadata={"help": "may see the admin view and export", "switch": True})
    password_stdin: bool = field(default=False, metadata={"help": PASSWORD_STDIN, "switch": True})


@dataclass(frozen=True)
class HashPasswordOptions:
    password_stdin: bool = field(default=False, metadata={"help": PASSWORD_STDIN, "switch": True})


USER_COMMANDS = {"add-user": AddUserOptions, "hash-password": HashPasswordOptions}


def read_password(from_stdin: bool) -> str:
    r"""The password typed twice at a terminal, or the first line of stdin without its line end: ``\n``, ``\r\n``
    (a file saved on Windows, `printf 'secret\r\n'`) or a lone ``\r``. Only the line end goes: spaces, tabs and any
    other character of the line are the password's."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:  # no line at all (`< /dev/null`, nothing piped): no password, not a short one
            raise PrefloopError(
                "no password: stdin is empty; give the password as its first line (--password-stdin < pw.txt), "
                "or run the command at a terminal to type it"
            )
        return line.removesuffix("\n").removesuffix("\r")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise PrefloopError("the passwords differ")
    return password


def user_command(command: str, argv: list[str], prog: str = "python -m annotate") -> int:
    cls = USER_COMMANDS[command]
    parser = options_parser(cls, f"{prog} {command}", None, workspace_alias=False, config=False)
    args = build(cls, parser.parse_args(argv))
    password = read_password(args.password_stdin)
    if command == "hash-password":
        print(hash_password(password))
        return 0
    user = add_user(args.users, args.name, password, admin=args.admin)
    print(f"{args.users}: user {user.name}{' (admin)' if user.admin else ''} saved")
    return 0


def serve(options: AnnotateOptions) -> int:
    # Every check comes before anything is served: a bad users file or an empty workspace is one clear line.
    workspace = Workspace(options.workspace)
    refuse_unwritable(
        workspace.path,
        lambda reason: (
            f"{options.workspace}: labelling needs a writable workspace ({reason}); stats, validate "
            "and `export --out` to a writable folder work on this one"
        ),
    )
    limits = options.login_limits()
    users_path = options.users or options.workspace / "users.toml"
    password = None
    # the demo admin lives in this process only: its password, printed once, signs in until the app stops (it was
    # written to the users file, so the last printed password kept signing in as admin after a restart without it)
    # (a folder there is no users file: refused as without the flag, not passed over unread)
    users = load_users(users_path) if not options.demo_user or users_path.exists() else {}
    own = {}
    if options.demo_user:
        password = secrets.token_urlsafe(9)
        own[DEMO_USER] = User(DEMO_USER, hash_password(password), admin=True)
    auth = Authenticator(users, users_path, own)  # the file read again at a sign-in once it changed
    rubric = load_rubric(options.rubric) if options.task == "rate" else None
    from annotate.web import check_host  # starlette's imports: only when serving

    check_host(options.host, options.port)
    # One app per view of a workspace, its lock taken before a table is read: a second app is refused at once
    # (once a start of the view that reads the tables meanwhile is over: it may find nothing to label, and let go).
    lock = ViewLock(workspace.path / HOLDINGS_FOLDER, options.task)

    def refuse_empty(service: LabelService) -> None:
        if not service.queue.items:  # gold items are met only among regular ones (--gold-rate): none alone
            gold = len(service.items)
            raise PrefloopError(nothing_to_label(workspace, options.task, options.workspace, gold))

    with lock.starting():
        lock.take()
        try:
            service = LabelService(
                workspace,
                options.task,
                options.overlap,
                options.lease_minutes * 60,
                order=options.order,
                suggest=options.suggest,
                gold_rate=options.gold_rate,
                rubric=rubric,
                check=refuse_empty,  # before the view's holds are read and rewritten: a refused start writes nothing
            )
        except BaseException:
            lock.withdraw()
            raise
    try:
        return serve_view(options, workspace, service, auth, limits, password)
    finally:
        let_go(lock.fd)


def serve_view(
    options: AnnotateOptions,
    workspace: Workspace,
    service: LabelService,
    auth: Authenticator,
    limits: LoginLimits,
    password: str | None,
) -> int:
    """Serve ``service``'s view once its lock is taken (`holdings.ViewLock`), until the app stops."""
    from annotate.app import build_app, launch, make_context  # gradio is slow to import: only when serving
    from annotate.web import bracketed

    ctx = make_context(service, auth, options.guidelines)
    app = build_app(ctx)

    def listening() -> None:  # once it listens: a port in use was "URL ..." and then the error
        url = f"http://{bracketed(options.host)}:{options.port}/"
        print(f"URL {url}  ({started_counts(service, options.task, len(auth.users), options.overlap)})")
        if options.order == "uncertainty":
            # the items left to label: fewer than K labels (train score scores no labelled pair)
            queue = service.queue
            say_scored(workspace, [i for i in queue.items if queue.votes.get(i, 0) < queue.overlap], options)
        if password:
            print(
                f"login: {DEMO_USER} / {password}   (demo only: this run's admin, a new password on every start)"
            )
        sys.stdout.flush()

    launch(
        app,
        ctx,
        options.host,
        options.port,
        limits=limits,
        idle_minutes=options.session_idle_minutes,
        trusted_proxy=options.trusted_proxy,
        on_listen=listening,
        quiet=True,
    )
    return 0


def _main(argv: list[str] | None, prog: str) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] in USER_COMMANDS:
        return user_command(argv[0], argv[1:], prog)
    options = build(AnnotateOptions, build_parser(prog).parse_args(argv))
    if options.overlap < 1:
        raise PrefloopError(f"--overlap {options.overlap}: must be >= 1")
    check_gold_rate(options.gold_rate)
    check_serving(options)
    if options.rubric is not None:
        if options.task != "rate":
            raise PrefloopError(f"--rubric applies to --task rate, not {options.task}")
        load_rubric(options.rubric)  # a bad rubric is one line before anything else is read
    return serve(options)


def started_counts(service: LabelService, task: str, users: int, overlap: int) -> str:
    """What the start line counts: the items to label (those the team's progress counts) apart from the gold
    items mixed in among them at --gold-rate (the catalog holds both: counted together, the line said 305 items
    where the page counted 284). A --gold-rate with no gold among the items to mix in says so: the line said nothing,
    as if gold were served, where a lead had made gold for another task or none yet (the arena app's items are its
    arena pairs: the pairwise app's gold is none of them)."""
    gold = len(service.queue.gold)
    rate = number_shown(service.gold_rate)
    mixed = f" + {gold} gold (--gold-rate {rate})" if gold else ""
    if gold and service.gold_rate <= 0:
        mixed = f" ({gold} gold not served: --gold-rate 0)"
    if not gold and service.gold_rate > 0:
        mixed = f" (none gold: --gold-rate {rate} serves no gold until `data gold` marks some of them)"
    return (
        f"{counted(len(service.queue.items), f'{task} item')}{mixed}, {counted(users, 'user')}, K={overlap}"
    )


def say_scored(workspace: Workspace, items: list[str], options: AnnotateOptions) -> None:
    """How many of the ``items`` left to label `--order uncertainty` hands out by their score: with none scored (no
    `train score` run), the order is round's, a warning, not silently another order than the one asked for."""
    scores = workspace.frame("scores")
    margins = uncertainty_margins(scores)
    scored = sum(item in margins for item in items)
    what = counted(len(items), f"{options.task} item") + " left to label"
    if not scored:
        print(
            f"warning: --order uncertainty: none of the {what} is scored (`python -m train score -w "
            f"{options.workspace}` scores them): they go out in round order",
            file=sys.stderr,
        )
        return
    rest = f"; the {len(items) - scored} unscored after them, in round order" if scored < len(items) else ""
    model = latest_scorer(scores)[:8]
    print(f"--order uncertainty: {scored} of {what} scored by model {model} (`python -m train score`){rest}")


def check_serving(options: AnnotateOptions) -> None:
    """The port, the trusted proxy, the lease and the guidelines file, before the workspace is read (a port out of
    range was bind()'s OverflowError, a guidelines file that is no UTF-8 text a UnicodeDecodeError, both once the
    app was built)."""
    if not 1 <= options.port <= 65535:
        raise PrefloopError(f"--port {options.port}: must be in 1-65535")
    check_trusted_proxy(options.trusted_proxy)
    if not 0 <= options.lease_minutes < math.inf:  # nan passed `< 0`: no lease ever held an item
        raise PrefloopError(
            f"--lease-minutes {number_shown(options.lease_minutes)}: must be a finite number >= 0"
        )
    guide = options.guidelines
    if guide is None:
        return
    if not guide.exists():
        raise PrefloopError(f"{guide}: no such guidelines file")
    if not guide.is_file():
        raise PrefloopError(f"{guide}: not a file (--guidelines)")
    try:
        guide.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PrefloopError(f"{guide}: not UTF-8 text (byte {exc.start}) (--guidelines)") from None


def check_trusted_proxy(proxy: str | None) -> None:
    """Refuse a --trusted-proxy that is no IP address or network (uvicorn's list, comma-separated): uvicorn kept
    it as a name, which no peer's address ever is, so X-Forwarded-For was ignored without a word ("*", which
    trusts every client to name any address, is no address either; nor is a network with host bits set,
    10.0.0.5/24, which uvicorn's strict reading keeps as a name too); nor a network of every address, 0.0.0.0/0 or
    ::/0, which trusts every client as "*" does."""
    for part in [] if proxy is None else [p.strip() for p in proxy.split(",")]:
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise PrefloopError(
                f"--trusted-proxy {proxy}: not an IP address or network (the reverse proxy's: 10.0.0.5, fd00::5 or "
                "10.0.0.0/24, say; several separated by commas)"
            ) from None
        if network.prefixlen == 0:  # uvicorn trusted every client of that family: `*`, which is refused
            raise PrefloopError(
                f"--trusted-proxy {proxy}: {part} is every IPv{network.version} address, which trusts every client "
                "to name any address, as * does: give the reverse proxy's address or network"
            )
        try:
            ipaddress.ip_network(part)
        except ValueError:
            raise PrefloopError(
                f"--trusted-proxy {proxy}: {part} has host bits set: give the network, {network}, or the "
                "proxy's address alone"
            ) from None


def main(argv: list[str] | None = None, prog: str = "python -m annotate") -> int:
    return run_cli(lambda args: _main(args, prog), argv)


if __name__ == "__main__":
    sys.exit(main())
