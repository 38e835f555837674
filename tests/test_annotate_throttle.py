"""Login throttling on its own (annotate.users.LoginThrottle, on a stand-in clock): per-name backoff and lockout,
per-address slowing, attempts counted before their check under concurrency, refusals reported once a minute, and
bounded memory. The throttle behind the login form: tests/test_annotate_security.py."""

from __future__ import annotations

import threading
import time

from annotate.users import LoginLimits, LoginThrottle


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_throttle_backs_off_then_locks_out_and_forgets():
    clock = Clock()
    throttle = LoginThrottle(
        LoginLimits(attempts=3, address_attempts=2, lockout_seconds=60, backoff_seconds=1), clock
    )
    assert throttle.begin("ann") == 0
    assert throttle.begin("ann") == 1  # the first attempt is counted before its check: backoff * 2**0
    assert throttle.failed("ann", "1.2.3.4") == (1, 0.0)
    clock.now += 1
    assert throttle.begin("ann") == 0
    assert throttle.failed("ann", "1.2.3.4") == (2, 0.1)  # the address's 2nd failure: answers held back
    assert throttle.wait("ann") == 2  # per name, whatever the address
    clock.now += 2
    throttle.begin("ann")
    assert throttle.failed("ann", "1.2.3.4") == (3, 0.2)
    assert throttle.wait("ann") == 60  # third failure: locked out
    clock.now += 59
    assert throttle.wait("ann") == 1
    clock.now += 1
    assert throttle.wait("ann") == 0  # the window passed: forgotten
    for name in "abcdefghijklmnopqrstuvwxyz":  # one address trying many names: slowed, never locked
        assert throttle.begin(name) == 0
        delay = throttle.failed(name, "6.6.6.6")[1]
    assert delay == 10.0  # capped at address_delay_max
    assert throttle.begin("fresh-name") == 0  # a name that was not guessed may always try
    throttle.succeeded("fresh-name")
    assert throttle.wait("fresh-name") == 0 and throttle.wait("a") == 1


def test_concurrent_attempts_are_counted_before_the_check():
    """150 threads guessing one name at once: at most `attempts` passwords are checked (the check-and-count is
    one step), the rest refused without a check."""
    throttle = LoginThrottle(LoginLimits(attempts=10, backoff_seconds=0.0))
    checked, start = [], threading.Barrier(150)

    def guess(i: int) -> None:
        start.wait()
        if throttle.begin("ann") == 0:
            checked.append(i)
            time.sleep(0.01)  # the scrypt check
            throttle.failed("ann", "10.0.0.1")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(150)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == 10


def test_refusals_are_reported_once_a_minute_per_name():
    clock = Clock()
    throttle = LoginThrottle(LoginLimits(), clock)
    assert [throttle.refused("ann") for _ in range(5)] == [1, 0, 0, 0, 0]
    assert throttle.refused("bob") == 1
    clock.now += 60
    assert throttle.refused("ann") == 5  # four since the last report, and this one


def test_throttle_memory_is_bounded():
    throttle = LoginThrottle(LoginLimits(), Clock(), max_keys=10)
    for i in range(100):
        throttle.begin(f"guess{i}")
        throttle.failed(f"guess{i}", f"10.0.0.{i}")
        throttle.refused(f"guess{i}")
    assert len(throttle._failures) <= 10 and len(throttle._refusals) <= 10


def test_guessed_names_filling_memory_do_not_lift_a_lockout():
    """At the key bound the oldest failures were forgotten first: guesses of fresh names (one failure each) pushed
    a locked-out name's count out, and it could guess again at once."""
    clock = Clock()
    throttle = LoginThrottle(
        LoginLimits(attempts=3, lockout_seconds=900, backoff_seconds=0), clock, max_keys=10
    )
    for _ in range(3):
        assert throttle.begin("ann") == 0
        throttle.failed("ann", "6.6.6.6")
    assert throttle.wait("ann") == 900
    for i in range(100):
        clock.now += 1
        throttle.begin(f"guess{i}")
        throttle.failed(f"guess{i}", "6.6.6.6")
    assert len(throttle._failures) <= 10 and throttle.wait("ann") == 800  # still locked out


def test_guessed_names_filling_memory_do_not_reset_a_names_failures():
    """At the key bound the fewest failures were forgotten first, the oldest among them: fresh names each failing as
    often as a name had pushed its count out, so every round of them reset it (its back-off and lock-out undone).
    No failure in its window is forgotten now: the names memory has no room for share one count instead."""
    clock = Clock()
    throttle = LoginThrottle(
        LoginLimits(attempts=3, lockout_seconds=900, backoff_seconds=0), clock, max_keys=10
    )
    for _ in range(2):
        assert throttle.begin("ann") == 0
        throttle.failed("ann", "1.2.3.4")
    for i in range(100):
        clock.now += 1
        for _ in range(2):  # each fresh name fails as often as ann did
            if throttle.begin(f"guess{i}") == 0:
                throttle.failed(f"guess{i}", "6.6.6.6")
    assert len(throttle._failures) <= 10
    assert throttle.begin("ann") == 0
    assert throttle.failed("ann", "1.2.3.4")[0] == 3  # ann's two failures were kept: this third locks her out
    assert throttle.wait("ann") == 900
    assert throttle.begin("fresh-name") > 0  # the names without room used up their one name's attempts
    clock.now += 900
    assert throttle.begin("fresh-name") == 0  # their window passed: memory has room again
    assert throttle.wait("ann") == 0


def test_a_right_password_is_not_left_counted_on_the_shared_count():
    """While memory was full, a right password's attempt stayed counted on the count the names without room share:
    ``attempts`` labellers signing in locked every name without room out, with no wrong password among them."""
    clock = Clock()
    throttle = LoginThrottle(
        LoginLimits(attempts=3, lockout_seconds=900, backoff_seconds=0), clock, max_keys=4
    )
    throttle.begin("guess0")
    throttle.failed(
        "guess0", "6.6.6.6"
    )  # its name and its address: memory full (2 keys kept for the shared ones)
    for name in ("ann", "bob", "cyd", "dee"):
        assert throttle.begin(name) == 0
        throttle.succeeded(name)
    assert throttle.begin("eve") == 0  # 4 right passwords: none of the 3 shared attempts used
    throttle.failed("eve", "6.6.6.6")
    assert throttle.begin("eve") == 0
    throttle.failed("eve", "6.6.6.6")
    assert throttle.begin("fay") == 0
    throttle.failed("fay", "6.6.6.6")
    assert throttle.begin("gus") > 0  # wrong passwords still share one name's attempts
    assert throttle.begin("ann") > 0 and throttle.wait("guess0") == 0


def test_guessed_names_filling_memory_do_not_lock_out_an_account():
    """While memory was full of guessed names' failures, every name without room shared one count, accounts too: a
    flood of fresh names (max_keys failed checks in the lock-out window) locked every labeller who had not failed
    meanwhile out of signing in. An account of the users file has a count of its own, whatever memory holds."""
    clock = Clock()
    limits = LoginLimits(attempts=3, lockout_seconds=900, backoff_seconds=0)
    throttle = LoginThrottle(limits, clock, max_keys=10, is_account={"ann", "bob"}.__contains__)
    for i in range(100):
        clock.now += 1
        if throttle.begin(f"guess{i}") == 0:
            throttle.failed(f"guess{i}", "6.6.6.6")
    assert throttle.begin("fresh-name") > 0  # the names without room used up their one name's attempts
    assert throttle.begin("ann") == 0  # ann's password is checked
    throttle.succeeded("ann")
    for _ in range(3):  # a guesser of bob's password is throttled on bob's own count
        assert throttle.begin("bob") == 0
        throttle.failed("bob", "6.6.6.6")
    assert throttle.wait("bob") == 900 and throttle.begin("ann") == 0
    # beyond the bound: the accounts' own counts (ann's attempt is counted until its check)
    assert {("user", "ann"), ("user", "bob")} <= set(throttle._failures) and len(throttle._failures) <= 10 + 2


def apps_throttle(label_ws, users) -> tuple[LoginThrottle, object]:
    """The throttle the app serves with (`app.launch`, on a stand-in for Gradio's app), and its Authenticator."""
    import gc
    from types import SimpleNamespace

    from annotate.app import launch, make_context
    from annotate.service import LabelService
    from annotate.users import Authenticator, load_users

    stand_in = SimpleNamespace(server_app=SimpleNamespace())
    stand_in.launch = lambda **kwargs: setattr(stand_in, "kwargs", kwargs)
    ctx = make_context(LabelService(label_ws), Authenticator(load_users(users), users))
    launch(stand_in, ctx, block=False)
    gc.unfreeze()
    return stand_in.kwargs["app_kwargs"]["middleware"][0].kwargs["throttle"], ctx.auth


def test_the_apps_throttle_knows_the_users_files_accounts(label_ws, tmp_path):
    """The app's throttle (`app.launch`) asks the users read last who has an account; a user added to the file
    counts as one once a lookup (a sign-in, any signed-in request) has read it again."""
    from annotate.users import add_user

    users = tmp_path / "users.toml"
    add_user(users, "ann", "a password")
    throttle, auth = apps_throttle(label_ws, users)
    assert throttle.is_account("ann") and not throttle.is_account("guess")
    add_user(users, "bob", "another password")
    assert not throttle.is_account("bob")  # no lookup has read the file since
    assert auth("bob", "another password") and throttle.is_account("bob")


def test_a_flood_of_guessed_names_does_not_read_the_users_file_per_name(label_ws, tmp_path, monkeypatch):
    """The throttle's account test was a lookup of the users table, which reads the users file (an lstat, a read
    and a SHA-256 of it) to see whether it changed: once per guessed name while memory is full, under the
    throttle's lock, on the server's event loop. It asks the users read last now: a flood reads the file no more."""
    import annotate.users
    from annotate.users import add_user

    users = tmp_path / "users.toml"
    add_user(users, "ann", "a password")
    throttle, _ = apps_throttle(label_ws, users)
    reads = []
    opened = annotate.users.open_regular
    monkeypatch.setattr(annotate.users, "open_regular", lambda *a, **k: reads.append(a) or opened(*a, **k))
    for i in range(throttle.max_keys + 500):  # memory full, then 500 guessed names beyond it
        if throttle.begin(f"guess{i}") == 0:
            throttle.failed(f"guess{i}", "6.6.6.6")
    assert throttle.begin("ann") == 0 and reads == []  # ann still has a count of her own


class YieldingClock(Clock):
    """A stand-in clock whose every reading lets other threads run: a check and a count taken in two steps (two
    readings) would interleave with other threads' here, as they can on a busy server."""

    def __call__(self) -> float:
        time.sleep(0.0001)
        return self.now


def test_concurrent_guesses_of_several_names_check_exactly_the_limit_each_window():
    """Threads guessing 6 names at once, each guess failing from one address: every name has exactly `attempts`
    passwords checked (never one more: the check-and-count is one step, whatever interleaves), and once the
    lock-out window has passed, exactly `attempts` again."""
    clock = YieldingClock()
    throttle = LoginThrottle(LoginLimits(attempts=7, lockout_seconds=60, backoff_seconds=0.0), clock)
    names = [f"user{i}" for i in range(6)]

    def round_of_guesses() -> list[str]:
        checked, start = [], threading.Barrier(6 * 40)

        def guess(name: str) -> None:
            start.wait()
            for _ in range(3):  # each thread tries again after a refusal, as a scripted guesser would
                if throttle.begin(name) == 0:
                    checked.append(name)
                    time.sleep(0.001)  # the scrypt check, another thread's turn meanwhile
                    throttle.failed(name, "10.0.0.1")

        threads = [threading.Thread(target=guess, args=(name,)) for name in names for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return checked

    assert sorted(round_of_guesses()) == sorted(names * 7)
    assert all(throttle.wait(name) == 60 for name in names)
    clock.now += 60  # the window passed: forgotten
    assert sorted(round_of_guesses()) == sorted(names * 7)
