"""Tracking providers: the UNI-PASS client against a fake of its XML service, and the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from django.utils import timezone

from conversations.aio import run_db
from customs.models import CargoType, Shipment, ShipmentEvent
from customs.testing.fake_unipass import FakeCargo, FakeUnipass
from customs.tracking import (
    DatabaseProvider,
    TrackingUnavailable,
    UnipassProvider,
    parse_unipass_progress,
    tracking_provider,
)

pytest_plugins = ["tests.live_server"]

THIS_YEAR = str(dt.date.today().year)
CARGO = FakeCargo(
    summary={"cargMtNo": "24KMTC0123I00010000", "prgsStts": "반출완료", "csclPrgsStts": "수입신고수리",
             "prnm": "SMART PHONE", "mblNo": "KMTCSHA1234567", "hblNo": "", "shipNm": "KMTC HOCHIMINH",
             "shcoFlco": "고려해운", "ldprNm": "SHANGHAI", "dsprNm": "부산항", "etprCstm": "부산세관",
             "etprDt": "20240105", "pckGcnt": "12", "pckUt": "CT", "ttwg": "1,250.5", "wghtUt": "KG"},
    steps=[{"cargTrcnRelaBsopTpcd": "반출신고", "prcsDttm": "20240107101500", "shedNm": "부산신항 CFS",
            "rlbrCn": "수입신고 수리후 반출", "dclrNo": "12345-24-000123U"},
           {"cargTrcnRelaBsopTpcd": "입항보고", "prcsDttm": "20240105080000", "shedNm": "", "rlbrCn": "",
            "dclrNo": ""}],
)


@pytest.fixture
def unipass() -> Iterator[FakeUnipass]:
    with FakeUnipass() as fake:
        fake.add("cargMtNo", "24KMTC0123I00010000", CARGO)
        fake.add("mblNo", "KMTCSHA1234567", CARGO, year=THIS_YEAR)
        fake.add("hblNo", "123456789012", CARGO, year=THIS_YEAR)
        yield fake


def _provider(fake: FakeUnipass, key: str | None = None) -> UnipassProvider:
    return UnipassProvider(api_key=key or fake.api_key, base_url=fake.base_url)


async def test_unipass_by_cargo_management_number(unipass: FakeUnipass) -> None:
    result = await _provider(unipass).track(number="24KMTC0123I00010000", kind=CargoType.CARGO_MANAGEMENT)
    assert result is not None
    assert unipass.requests == [{"crkyCn": unipass.api_key, "cargMtNo": "24KMTC0123I00010000"}]
    assert (result.provider, result.progress_status, result.clearance_status) == ("unipass", "반출완료", "수입신고수리")
    assert (result.product_name, result.vessel, result.discharge_port) == ("SMART PHONE", "KMTC HOCHIMINH", "부산항")
    assert (result.arrived_on, result.package_count, result.weight_kg) == ("2024-01-05", 12, 1250.5)
    # Steps in time order, times as ISO 8601 in Korea's offset.
    assert [e.kind for e in result.events] == ["입항보고", "반출신고"]
    assert result.events[1].occurred_at == "2024-01-07T10:15:00+09:00"
    assert result.events[1].place == "부산신항 CFS"
    assert "12345-24-000123U" in result.events[1].detail


async def test_unipass_bl_asks_master_then_house_with_the_year(unipass: FakeUnipass) -> None:
    result = await _provider(unipass).track(number="KMTCSHA1234567", kind=CargoType.BILL_OF_LADING)
    assert result is not None and result.cargo_management_number == "24KMTC0123I00010000"
    assert unipass.requests[0] == {"crkyCn": unipass.api_key, "mblNo": "KMTCSHA1234567", "blYy": THIS_YEAR}
    parcel = await _provider(unipass).track(number="123456789012", kind=CargoType.PARCEL)
    assert parcel is not None
    assert unipass.requests[-1] == {"crkyCn": unipass.api_key, "hblNo": "123456789012", "blYy": THIS_YEAR}


@pytest.mark.django_db(transaction=True)  # then the stored shipments are asked
async def test_unipass_unknown_number_tries_both_years_then_gives_none(unipass: FakeUnipass) -> None:
    assert await _provider(unipass).track(number="MAEU999999999", kind=CargoType.BILL_OF_LADING) is None
    last_year = str(int(THIS_YEAR) - 1)
    assert [(set(q) - {"crkyCn"}, q.get("blYy")) for q in unipass.requests] == [
        ({"mblNo", "blYy"}, THIS_YEAR), ({"hblNo", "blYy"}, THIS_YEAR),
        ({"mblNo", "blYy"}, last_year), ({"hblNo", "blYy"}, last_year)]


@pytest.mark.django_db(transaction=True)
async def test_unipass_container_numbers_are_not_its_key_the_stored_shipments_answer(unipass: FakeUnipass) -> None:
    assert await _provider(unipass).track(number="CSQU3054383", kind=CargoType.CONTAINER) is None
    await run_db(_shipment)
    result = await _provider(unipass).track(number="CSQU3054383", kind=CargoType.CONTAINER)
    assert result is not None and (result.provider, result.product_name) == ("database", "냉동 새우")
    assert unipass.requests == []
    # A B/L UNI-PASS does not know, kept by staff, is found too (after asking UNI-PASS).
    by_bl = await _provider(unipass).track(number="MAEU123456789", kind=CargoType.BILL_OF_LADING)
    assert by_bl is not None and by_bl.cargo_number == "CSQU3054383" and len(unipass.requests) == 4


@pytest.mark.django_db(transaction=True)
async def test_unipass_wrong_key_finds_nothing(unipass: FakeUnipass) -> None:
    assert await _provider(unipass, key="wrong").track(number="24KMTC0123I00010000",
                                                       kind=CargoType.CARGO_MANAGEMENT) is None


async def test_unipass_errors_and_timeouts_are_unavailable(unipass: FakeUnipass, settings: Any) -> None:
    settings.UNIPASS_READ_TIMEOUT = 0.2  # read when the loop's client is built
    unipass.status = 500
    with pytest.raises(TrackingUnavailable):
        await _provider(unipass).track(number="24KMTC0123I00010000", kind=CargoType.CARGO_MANAGEMENT)
    unipass.status = 200
    unipass.delay = 0.6
    with pytest.raises(TrackingUnavailable) as caught:
        await _provider(unipass).track(number="24KMTC0123I00010000", kind=CargoType.CARGO_MANAGEMENT)
    assert isinstance(caught.value.__cause__, httpx2.TimeoutException)


def test_unparseable_xml_is_unavailable() -> None:
    with pytest.raises(TrackingUnavailable):
        parse_unipass_progress("<not xml", number="X", kind=CargoType.BILL_OF_LADING)


def test_provider_follows_the_key(settings: Any) -> None:
    settings.UNIPASS_API_KEY = ""
    assert isinstance(tracking_provider(), DatabaseProvider)
    settings.UNIPASS_API_KEY = "k"
    assert isinstance(tracking_provider(), UnipassProvider)


def _shipment() -> Shipment:
    shipment = Shipment.objects.create(cargo_number="csqu-305438-3", cargo_type=CargoType.CONTAINER,
                                       bl_number="MAEU123456789", product_name="냉동 새우", progress_status="반입완료",
                                       clearance_status="수입신고", discharge_port="부산항")
    ShipmentEvent.objects.create(shipment=shipment, occurred_at=timezone.now(), kind="반입신고", place="부산신항")
    return shipment


@pytest.mark.django_db(transaction=True)
async def test_database_provider_finds_by_its_number_or_bl() -> None:
    shipment = await run_db(_shipment)
    assert shipment.cargo_number == "CSQU3054383"  # stored normalised
    provider = DatabaseProvider()
    result = await provider.track(number="CSQU3054383", kind=CargoType.CONTAINER)
    assert result is not None and result.product_name == "냉동 새우" and [e.kind for e in result.events] == ["반입신고"]
    by_bl = await provider.track(number="MAEU123456789", kind=CargoType.BILL_OF_LADING)
    assert by_bl is not None and by_bl.cargo_number == "CSQU3054383"
    assert await provider.track(number="MSKU9070323", kind=CargoType.CONTAINER) is None


# --- GET /api/cargo/tracking on the live server ---------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_tracking_endpoint_answers_from_the_database(offline: None, http: httpx2.AsyncClient) -> None:
    await run_db(_shipment)
    response = await http.get("/api/cargo/tracking", params={"cargo_number": "CSQU 305438 3"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["cargo_number"], data["provider"], data["progress_status"]) == ("CSQU3054383", "database", "반입완료")
    assert data["events"][0]["kind"] == "반입신고"
    missing = await http.get("/api/cargo/tracking", params={"cargo_number": "MSKU9070323"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "CARGO_NOT_FOUND"
    bad = await http.get("/api/cargo/tracking", params={"cargo_number": "hello"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_CARGO_NUMBER"
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["cargo_number"]
    absent = await http.get("/api/cargo/tracking")
    assert absent.status_code == 422
    assert [f["field"] for f in absent.json()["error"]["fields"]] == ["cargo_number"]


@pytest.fixture
def unipass_server(unipass: FakeUnipass, settings: Any) -> FakeUnipass:
    """List before ``asgi_server``: the server then asks the fake UNI-PASS."""
    settings.UNIPASS_API_KEY = unipass.api_key
    settings.UNIPASS_BASE_URL = unipass.base_url
    return unipass


@pytest.mark.django_db(transaction=True)
async def test_tracking_endpoint_answers_from_unipass(unipass_server: FakeUnipass, http: httpx2.AsyncClient) -> None:
    response = await http.get("/api/cargo/tracking", params={"cargo_number": "24KMTC0123I-0001-0000"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["provider"], data["clearance_status"], data["cargo_type"]) == ("unipass", "수입신고수리", "화물관리번호")
    unipass_server.status = 503
    down = await http.get("/api/cargo/tracking", params={"cargo_number": "24KMTC0123I-0001-0000"})
    assert down.status_code == 503 and down.json()["error"]["code"] == "TRACKING_UNAVAILABLE"
