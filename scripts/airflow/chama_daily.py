"""chama's daily job in Airflow: one task per interface, each running
`chama run --iface I --period {{ ds_nodash }} --json`.

Each task goes to the Airflow queue its spec names (`[delivery] queue =
"node03"`), one queue per machine, so that an interface always runs on the same
machine and finds its hours in that machine's work directory; a spec that names
none goes to Airflow's default queue. With the Celery executor, start each
machine's worker with `airflow celery worker --queues <its queue>`.

Exit codes decide retries (README, "Exit codes"): 1, 3, 5 and 6 may pass on a
later try and are retried, and so is a chama killed by a signal or stopped by
one (129, 130, 143); 2 (configuration or spec), 4 (bad input) and 7 (volume
alarm) need a person and fail the task at once. The JSON summary chama
prints as its last stdout line is the task's XCom.

Settings, from the environment of the scheduler and workers:
  CHAMA_BIN         the chama executable (default: chama on PATH)
  CHAMA_CONFIG      its chama.toml (default: chama's own lookup)
  CHAMA_WORKDIR     the directory chama runs in (default: the current one)
  CHAMA_INTERFACES  the interfaces directory, one task per *.toml (default: $CHAMA_WORKDIR/interfaces)
  CHAMA_IFACES      the interfaces to run, comma-separated (default: one task per spec there)
  CHAMA_RETRIES     retries of a retryable failure (default 3), CHAMA_RETRY_MINUTES between them (default 20)
  CHAMA_SCHEDULE    the DAG's schedule, a cron expression (default "30 1 * * *"); "none"
                    for runs triggered only by hand or by another system
  CHAMA_TIMEOUT_MINUTES  each task's execution_timeout (default 240); a task past it is
                    retried, its chama stopped with SIGTERM first (exit 143, nothing left half-made)
"""
import json
import os
import subprocess
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

from airflow.exceptions import AirflowException, AirflowFailException
from airflow.sdk import DAG, task

CHAMA = os.environ.get("CHAMA_BIN", "chama")
WORKDIR = os.environ.get("CHAMA_WORKDIR", os.getcwd())
INTERFACES = Path(os.environ.get("CHAMA_INTERFACES", os.path.join(WORKDIR, "interfaces")))
RETRYABLE = {1, 3, 5, 6}
# chama stopped by SIGHUP, SIGINT or SIGTERM (it leaves nothing half-made).
STOPPED = {129, 130, 143}
SCHEDULE = os.environ.get("CHAMA_SCHEDULE", "30 1 * * *")
TIMEOUT = timedelta(minutes=float(os.environ.get("CHAMA_TIMEOUT_MINUTES", "240")))
# How long a chama that was sent SIGTERM may take to stop before it is killed.
STOP_SECONDS = 60


def run_chama(iface: str, period: str) -> dict:
    """Runs the daily job for one interface; returns chama's JSON summary.

    When Airflow ends the task (its execution_timeout, an operator marking it
    failed or clearing it), chama gets SIGTERM and is waited for: it stops
    cleanly (exit 143), leaving nothing half-made, before the task ends.
    """
    p = subprocess.Popen(
        [CHAMA, "run", "--iface", iface, "--period", period, "--json"],
        cwd=WORKDIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = p.communicate()
    except BaseException:
        p.terminate()
        try:
            out, err = p.communicate(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        print(err, end="")
        print(f"chama run {iface} {period} stopped with SIGTERM: exited {p.returncode}")
        raise
    print(err, end="")
    last = out.strip().splitlines()[-1] if out.strip() else "{}"
    try:
        summary = json.loads(last)
    except json.JSONDecodeError:
        summary = {"code": p.returncode, "stdout": out[-2000:]}
    if p.returncode == 0:
        return summary
    if p.returncode in RETRYABLE:
        raise AirflowException(f"chama run {iface} {period} exited {p.returncode} (retryable)")
    if p.returncode < 0 or p.returncode in STOPPED:
        # Killed (the OOM killer, SIGKILL) or stopped by someone else's signal: a new
        # try resumes from what is complete.
        how = f"killed by signal {-p.returncode}" if p.returncode < 0 else f"stopped (exit {p.returncode})"
        raise AirflowException(f"chama run {iface} {period} {how} (retryable)")
    raise AirflowFailException(f"chama run {iface} {period} exited {p.returncode}: needs a person, not a retry")


def interfaces() -> list:
    """CHAMA_IFACES if set (a typo there fails its task once: chama exits 2), else every spec."""
    listed = os.environ.get("CHAMA_IFACES", "").strip()
    if listed:
        return [i.strip() for i in listed.split(",") if i.strip()]
    return [spec.stem for spec in sorted(INTERFACES.glob("*.toml"))]


def queues() -> dict:
    """Each interface's queue: its spec's `[delivery] queue`, read as chama reads it
    (`chama spec list --queue Q` on a machine lists the same interfaces).

    An interface without one is left out (its task takes Airflow's default queue);
    a spec that is not TOML is left to chama to report (exit 2).
    """
    mapping = {}
    for spec in sorted(INTERFACES.glob("*.toml")):
        try:
            queue = tomllib.loads(spec.read_text()).get("delivery", {}).get("queue")
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if queue:
            mapping[spec.stem] = queue
    return mapping


QUEUES = queues()

with DAG(
    dag_id="chama_daily",
    schedule=None if SCHEDULE.lower() == "none" else SCHEDULE,
    start_date=datetime(2024, 12, 1),
    catchup=False,
    default_args={
        "retries": int(os.environ.get("CHAMA_RETRIES", "3")),
        "retry_delay": timedelta(minutes=float(os.environ.get("CHAMA_RETRY_MINUTES", "20"))),
        "execution_timeout": TIMEOUT,
    },
    tags=["chama"],
) as dag:
    for iface in interfaces():

        # No queue argument at all for an unmapped interface: Airflow's default queue.
        @task(task_id=f"run_{iface}", **({"queue": QUEUES[iface]} if iface in QUEUES else {}))
        def run_one(iface: str = iface, ds_nodash=None) -> dict:
            return run_chama(iface, ds_nodash)

        run_one()
