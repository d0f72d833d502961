"""The one settings object of SafeTwin (pydantic-settings, environment prefix ``SAFETWIN_``).

Built once at the entry point (``safetwin`` CLI, the API factory, a test) and passed down;
no module reads the environment on its own. Every field has a default that starts the
embedded demo plant on a laptop with nothing else installed.

Examples:
    ``SAFETWIN_KAFKA_BROKERS=127.0.0.1:9092`` switches the bus to Kafka;
    ``SAFETWIN_DATABASE_URL=postgresql+psycopg://u:p@host/db`` moves registers to PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.cpu_affinity import CpuAffinity

DEV_SECRET = "safetwin-development-secret-change-me"  # noqa: S105 - the old default, refused everywhere
REPO_ROOT = Path(__file__).resolve().parent.parent
MIN_SECRET_LENGTH = 32  # HS256 wants a key of at least 256 bits
SECRET_FILE = "secret_key"  # in data_dir, mode 0600, generated on first start
# Values found in tutorials and .env examples; a token signed with one is forgeable by anyone.
# environment "test": one random key per process, never written anywhere, so the tokens a
# test suite signs with one Settings verify under another (they share no data dir).
_PROCESS_TEST_KEY = secrets.token_urlsafe(48)
KNOWN_SECRETS = frozenset({DEV_SECRET, "secret", "changeme", "change-me", "your-secret-key", "supersecret", "safetwin"})


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), creating it with those rights from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    path.chmod(0o600)


def _create_key_file(path: Path) -> str:
    """Generate the key file exclusively; a replica that lost the race reads the winner's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


class Settings(BaseSettings):
    """Runtime configuration; see README for the table of variables."""

    model_config = SettingsConfigDict(env_prefix="SAFETWIN_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Field(default=Path("var"), description="DuckDB, SQLite, recovery, uploads")
    plant_file: Path = Field(default=REPO_ROOT / "twin" / "plants" / "demo.yaml")
    seed: int = Field(default=7, description="simulator seed: the same seed, the same plant day")

    # API
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: SecretStr | None = Field(
        default=None, description=f"JWT signing key; empty: generated once into <data_dir>/{SECRET_FILE} (0600)"
    )
    token_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    password_max_age_days: int = Field(default=90, ge=0, description="password expiry; 0 turns it off")
    totp_required_roles: list[str] = Field(
        default_factory=list,
        description='roles that must enrol a TOTP second factor before using the API, e.g. ["admin","security_admin"]',
    )
    ws_recheck_s: float = Field(default=30.0, gt=0, description="/ws/live re-checks its token this often")
    auth_cache: bool = Field(
        default=True,
        description=(
            "PostgreSQL: each process keeps the users of live tokens while LISTEN/NOTIFY reports every change to "
            "users, roles and logouts (api.signed_in_cache); False looks the user up on every request"
        ),
    )
    hsts_max_age_s: int = Field(default=31536000, ge=0, description="Strict-Transport-Security on HTTPS")
    web_dist: Path = Field(default=REPO_ROOT / "viz" / "web" / "dist")

    # stores
    store: Literal["duckdb", "clickhouse"] = "duckdb"
    duckdb_path: Path | None = Field(default=None, description="default <data_dir>/safetwin.duckdb")
    clickhouse_dsn: str | None = Field(default=None, description="e.g. http://host:8123 or chdb:///path")
    database_url: str | None = Field(default=None, description="default sqlite:///<data_dir>/safetwin.db")

    # bus and field
    kafka_brokers: list[str] = Field(default_factory=list, description="empty: in-process bus")
    kafka_topic_prefix: str = Field(default="safetwin", pattern=r"^[A-Za-z0-9_.-]+$", description="<prefix>.<stream>")
    mqtt_url: str | None = Field(default=None, description="mqtt://host:1883; simulator publishes there")
    modbus_port: int = 5020
    opcua_port: int = 4840
    sim_interval_s: float = Field(default=1.0, gt=0, description="simulator sample period")
    simulate: bool = True
    ingest: Literal["opcua", "modbus"] = Field(
        default="opcua", description="how the embedded plant reads its simulator: OPC UA subscription or Modbus polling"
    )

    # sensor flow (both modes)
    max_payload_bytes: int = Field(default=1 << 20, ge=1024, description="larger messages are dead-lettered")
    max_future_s: float = Field(default=300.0, ge=0, description="readings dated further ahead are dead-lettered")
    source_timeout_s: float = Field(default=30.0, gt=0, description="silent this long: 通讯故障 and stale")
    latest_max_age_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "API: a tag's latest reading is served from one read of all tags for this long; writes of this process "
            "show at once, others' within it; 0 reads the store per request (api/latest_readings.py)"
        ),
    )
    history_max_age_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "API: the recent readings of a tag whose history is asked for again and again are kept in memory and "
            "served for this long; writes of this process show at once, others' within it; 0 queries the store per "
            "request (api/recent_history.py)"
        ),
    )
    history_cache_mb: float = Field(
        default=64.0,
        ge=0,
        le=65_536,
        description="API: memory per process for those copies of recent readings, least recently used dropped first",
    )
    ingest_queue_batches: int = Field(
        default=600, ge=1, description="embedded: scans queued for the flow; beyond, the oldest is dropped, counted"
    )
    own_process: bool = Field(
        default=False,
        description=(
            "embedded: the runtime owns its interpreter (set by `safetwin run`): 1 ms GIL switch interval and "
            "the start-up heap frozen out of the garbage collector's full passes; off where the app shares a "
            "process (tests, notebooks)"
        ),
    )
    api_cpu_affinity: CpuAffinity = Field(
        default="auto",
        description=(
            "`safetwin api --workers N`: each worker keeps to a core of its own; auto when the workers match the "
            "usable cores one to one, on round-robin, off never (api/cpu_affinity.py)"
        ),
    )
    flow_tail: bool = Field(default=True, description="distributed: False stops at the end offsets seen at start")
    flow_shards: int = Field(default=1, ge=1, description="distributed: state shards = raw topic partitions")
    tags_file: Path | None = Field(default=None, description="distributed: JSON list of tag limits (else the plant)")
    flow_writes_store: bool = Field(
        default=True, description="distributed: False when several flow processes run and one loader owns the store"
    )
    ingest_audit_file: Path | None = Field(default=None, description="append '<readings> <alarms>' per stored batch")
    risk_rules_file: Path | None = Field(
        default=None, description="JSON risk rule table (models.risk_rules); default: the shipped version"
    )

    # personnel positioning (issue 11)
    positioning_sigma_m: float = Field(
        default=0.3, gt=0, le=50, description="ranging noise of the site's tags: UWB ~0.3 m, BLE ~3 m"
    )
    sim_people: int = Field(default=12, ge=0, le=20_000, description="embedded: simulated people walking the plant")
    duty_escalation_days: int = Field(
        default=7, ge=1, le=92, description="包保: missed this many days after its period: escalated to 主要负责人"
    )

    # notification channels (each enabled when its address is set)
    notify_sms_url: str | None = Field(default=None, description="SMS gateway endpoint (HTTP POST JSON)")
    notify_sms_template: dict[str, object] | None = Field(default=None, description="JSON body, {phone} {text}")
    notify_wecom_url: str | None = Field(default=None, description="企业微信群机器人 webhook")
    notify_dingtalk_url: str | None = Field(default=None, description="钉钉群机器人 webhook")
    notify_dingtalk_secret: SecretStr | None = None
    notify_feishu_url: str | None = Field(default=None, description="飞书群机器人 webhook")
    notify_feishu_secret: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "safetwin@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False

    _signing_key: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _refuse_unsafe_secret(self) -> Settings:
        if self.secret_key is None:
            return self
        value = self.secret_key.get_secret_value()
        if value in KNOWN_SECRETS:
            msg = "SAFETWIN_SECRET_KEY is a published example value; set a private one (or leave it unset)"
            raise ValueError(msg)
        if self.environment == "production" and len(value) < MIN_SECRET_LENGTH:
            msg = f"SAFETWIN_SECRET_KEY must have at least {MIN_SECRET_LENGTH} characters in production"
            raise ValueError(msg)
        return self

    def signing_key(self) -> str:
        """The JWT signing key: the configured one, else the one generated into the data dir.

        Why not a constant default: a key in the source lets anyone forge an admin token. The
        first start writes 48 random bytes to ``<data_dir>/secret_key`` with rights 0600 and
        every later start (and every replica sharing the data dir) reads it back. Test runs
        (``environment="test"``) use a random key of the process instead.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.environment == "test":
            return _PROCESS_TEST_KEY
        if self._signing_key is None:
            path = self.data_dir / SECRET_FILE
            try:
                key = path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                key = ""
            if not key:
                key = _create_key_file(path)
            if len(key) < MIN_SECRET_LENGTH:
                msg = f"{path} holds a key shorter than {MIN_SECRET_LENGTH} characters; delete it to generate a new one"
                raise ValueError(msg)
            self._signing_key = key
        return self._signing_key

    @property
    def resolved_duckdb_path(self) -> Path:
        """Where the embedded time-series store lives."""
        return self.duckdb_path or self.data_dir / "safetwin.duckdb"

    @property
    def resolved_database_url(self) -> str:
        """SQLAlchemy URL of the registers database."""
        return self.database_url or f"sqlite:///{self.data_dir / 'safetwin.db'}"
