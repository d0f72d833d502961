"""The one settings object of SafeTwin (pydantic-settings, environment prefix ``SAFETWIN_``).

Built once at the entry point (``safetwin`` CLI, the API factory, a test) and passed down;
no module reads the environment on its own. Every field has a default that starts the
embedded demo plant on a laptop with nothing else installed.

Examples:
    ``SAFETWIN_KAFKA_BROKERS=127.0.0.1:9092`` switches the bus to Kafka;
    ``SAFETWIN_DATABASE_URL=postgresql+psycopg://u:p@host/db`` moves registers to PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "safetwin-development-secret-change-me"  # noqa: S105 - refused outside development
REPO_ROOT = Path(__file__).resolve().parent.parent


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
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    token_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
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
    ingest_queue_batches: int = Field(
        default=600, ge=1, description="embedded: scans queued for the flow; beyond, the oldest is dropped, counted"
    )
    flow_tail: bool = Field(default=True, description="distributed: False stops at the end offsets seen at start")
    flow_shards: int = Field(default=1, ge=1, description="distributed: state shards = raw topic partitions")
    tags_file: Path | None = Field(default=None, description="distributed: JSON list of tag limits (else the plant)")
    flow_writes_store: bool = Field(
        default=True, description="distributed: False when several flow processes run and one loader owns the store"
    )
    ingest_audit_file: Path | None = Field(default=None, description="append '<readings> <alarms>' per stored batch")

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

    @model_validator(mode="after")
    def _refuse_unsafe_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == DEV_SECRET:
            msg = "SAFETWIN_SECRET_KEY must be set to a private value in production"
            raise ValueError(msg)
        return self

    @property
    def resolved_duckdb_path(self) -> Path:
        """Where the embedded time-series store lives."""
        return self.duckdb_path or self.data_dir / "safetwin.duckdb"

    @property
    def resolved_database_url(self) -> str:
        """SQLAlchemy URL of the registers database."""
        return self.database_url or f"sqlite:///{self.data_dir / 'safetwin.db'}"
