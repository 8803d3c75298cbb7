"""Cargo tracking through a provider: UNI-PASS when its key is set (stored shipments for what it
cannot answer), else the database.

UNI-PASS (Korea Customs Service) "화물통관진행정보조회" answers by cargo management
number (``cargMtNo``) or by master/house B/L number with its year (``mblNo``/``hblNo`` +
``blYy``). Air waybills are master B/L numbers there, express parcels house B/L
numbers; container numbers are not a key of that service.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import httpx2
from django.conf import settings
from django.utils import timezone

from conversations.aio import PerLoop, run_db
from conversations.errors import DomainError
from customs.cargo import TYPE_LABELS
from customs.models import CargoType, Shipment

logger = logging.getLogger(__name__)

UNIPASS_PATH = "/cargCsclPrgsInfoQry/retrieveCargCsclPrgsInfo"


class TrackingUnavailable(DomainError):
    code = "TRACKING_UNAVAILABLE"
    status = 503
    message = "통관 정보 조회 서비스에 일시적으로 연결할 수 없습니다. 잠시 후 다시 시도해 주세요."


@dataclass(frozen=True)
class TrackingEvent:
    occurred_at: str | None
    kind: str
    place: str = ""
    detail: str = ""


@dataclass(frozen=True)
class TrackingResult:
    cargo_number: str
    cargo_type: str
    provider: str
    cargo_management_number: str = ""
    bl_number: str = ""
    product_name: str = ""
    progress_status: str = ""
    clearance_status: str = ""
    carrier: str = ""
    vessel: str = ""
    loading_port: str = ""
    discharge_port: str = ""
    arrival_customs: str = ""
    arrived_on: str | None = None
    package_count: int | None = None
    package_unit: str = ""
    weight_kg: float | None = None
    events: list[TrackingEvent] = field(default_factory=list)
    matches: int = 1  # UNI-PASS may find several cargoes for one B/L

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrackingProvider(ABC):
    name: str

    @abstractmethod
    async def track(self, *, number: str, kind: CargoType) -> TrackingResult | None:
        """The cargo's progress, or None when the provider knows no such cargo."""


# --- database -------------------------------------------------------------------------------


def _shipment_result(shipment: Shipment) -> TrackingResult:
    return TrackingResult(
        cargo_number=shipment.cargo_number,
        cargo_type=TYPE_LABELS.get(shipment.cargo_type, shipment.cargo_type),
        provider="database",
        cargo_management_number=shipment.cargo_management_number,
        bl_number=shipment.bl_number,
        product_name=shipment.product_name,
        progress_status=shipment.progress_status,
        clearance_status=shipment.clearance_status,
        carrier=shipment.carrier,
        vessel=shipment.vessel,
        loading_port=shipment.loading_port,
        discharge_port=shipment.discharge_port,
        arrival_customs=shipment.arrival_customs,
        arrived_on=shipment.arrived_on.isoformat() if shipment.arrived_on else None,
        package_count=shipment.package_count,
        package_unit=shipment.package_unit,
        weight_kg=float(shipment.weight_kg) if shipment.weight_kg is not None else None,
        events=[TrackingEvent(timezone.localtime(e.occurred_at).isoformat(), e.kind, e.place, e.detail)
                for e in shipment.events.all()],
    )


def shipment_tracking_get(*, number: str) -> TrackingResult | None:
    """A stored shipment by its own number, its B/L or its cargo management number."""
    from django.db.models import Q

    shipment = (Shipment.objects.filter(Q(cargo_number=number) | Q(bl_number=number)
                                        | Q(cargo_management_number=number))
                .prefetch_related("events").first())
    return _shipment_result(shipment) if shipment else None


class DatabaseProvider(TrackingProvider):
    name = "database"

    async def track(self, *, number: str, kind: CargoType) -> TrackingResult | None:
        return await run_db(shipment_tracking_get, number=number)


# --- UNI-PASS -----------------------------------------------------------------------------------


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _int(raw: str) -> int | None:
    try:
        return int(raw.replace(",", ""))
    except ValueError:
        return None


def _float(raw: str) -> float | None:
    try:
        return float(raw.replace(",", ""))
    except ValueError:
        return None


def _unipass_datetime(raw: str) -> str | None:
    """``20240105143000`` (KST) -> ISO 8601 with the +09:00 offset; dates alone stay dates."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) >= 12:
        seconds = digits[12:14] or "00"
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12]}:{seconds}+09:00"
    if len(digits) == 8:
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return None


def parse_unipass_progress(xml_text: str, *, number: str, kind: CargoType) -> TrackingResult | None:
    """The service's XML answer; None when it found nothing (``tCnt`` 0)."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise TrackingUnavailable() from exc
    count = _int(_text(root, "tCnt")) or 0
    summary = root.find("cargCsclPrgsInfoQryVo")
    if count <= 0 or summary is None:
        notice = _text(root, "ntceInfo")
        if notice:
            logger.info("unipass: no cargo for %s kind=%s notice=%s", number, kind, notice[:80])
        return None
    events = [
        TrackingEvent(
            occurred_at=_unipass_datetime(_text(item, "prcsDttm")),
            kind=_text(item, "cargTrcnRelaBsopTpcd"),
            place=_text(item, "shedNm"),
            detail=" ".join(part for part in (_text(item, "rlbrCn"), _text(item, "dclrNo")) if part),
        )
        for item in root.findall("cargCsclPrgsInfoDtlQryVo")
    ]
    events.sort(key=lambda e: e.occurred_at or "")
    weight_unit = _text(summary, "wghtUt").upper()
    weight = _float(_text(summary, "ttwg"))
    return TrackingResult(
        cargo_number=number,
        cargo_type=TYPE_LABELS[kind],
        provider="unipass",
        cargo_management_number=_text(summary, "cargMtNo"),
        bl_number=_text(summary, "hblNo") or _text(summary, "mblNo"),
        product_name=_text(summary, "prnm"),
        progress_status=_text(summary, "prgsStts"),
        clearance_status=_text(summary, "csclPrgsStts"),
        carrier=_text(summary, "shcoFlco"),
        vessel=_text(summary, "shipNm"),
        loading_port=_text(summary, "ldprNm"),
        discharge_port=_text(summary, "dsprNm"),
        arrival_customs=_text(summary, "etprCstm"),
        arrived_on=_unipass_datetime(_text(summary, "etprDt")),
        package_count=_int(_text(summary, "pckGcnt")),
        package_unit=_text(summary, "pckUt"),
        weight_kg=weight if weight_unit in ("", "KG", "KGM") else None,
        events=events,
        matches=count,
    )


def _client_build() -> httpx2.AsyncClient:
    timeout = httpx2.Timeout(settings.UNIPASS_READ_TIMEOUT, connect=settings.UNIPASS_CONNECT_TIMEOUT)
    return httpx2.AsyncClient(timeout=timeout, trust_env=False)


_client = PerLoop(_client_build).get


class UnipassProvider(TrackingProvider):
    name = "unipass"

    def __init__(self, *, api_key: str, base_url: str) -> None:
        self._api_key = api_key
        self._url = base_url.rstrip("/") + UNIPASS_PATH

    def _queries(self, *, number: str, kind: CargoType) -> list[dict[str, str]]:
        if kind == CargoType.CARGO_MANAGEMENT:
            return [{"cargMtNo": number}]
        if kind == CargoType.CONTAINER:
            return []
        year = date.today().year
        # Air waybills are master B/Ls there and courier numbers house B/Ls; B/Ls may be either.
        fields = {CargoType.AIR_WAYBILL: ("mblNo", "hblNo"), CargoType.PARCEL: ("hblNo",)}.get(kind, ("mblNo", "hblNo"))
        return [{name: number, "blYy": str(y)} for y in (year, year - 1) for name in fields]

    async def _ask(self, params: dict[str, str], *, number: str, kind: CargoType) -> TrackingResult | None:
        try:
            response = await _client().get(self._url, params={"crkyCn": self._api_key, **params})
        except httpx2.TimeoutException as exc:
            logger.warning("unipass timed out: %s", type(exc).__name__)
            raise TrackingUnavailable() from exc
        except httpx2.HTTPError as exc:
            logger.warning("unipass unreachable: %s", type(exc).__name__)
            raise TrackingUnavailable() from exc
        if response.status_code != 200:
            logger.warning("unipass answered HTTP %s", response.status_code)
            raise TrackingUnavailable()
        return parse_unipass_progress(response.text, number=number, kind=kind)

    async def track(self, *, number: str, kind: CargoType) -> TrackingResult | None:
        # In order: the current year's master B/L is by far the commonest hit.
        for params in self._queries(number=number, kind=kind):
            result = await self._ask(params, number=number, kind=kind)
            if result is not None:
                return result
        # Container numbers are no key of that service, and staff may keep shipments it
        # does not know: those are answered from the database.
        return await DatabaseProvider().track(number=number, kind=kind)


def tracking_provider() -> TrackingProvider:
    if settings.UNIPASS_API_KEY:
        return UnipassProvider(api_key=settings.UNIPASS_API_KEY, base_url=settings.UNIPASS_BASE_URL)
    return DatabaseProvider()
