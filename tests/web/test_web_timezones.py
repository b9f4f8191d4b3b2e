"""The time-zone picker: the zones people know, grouped by region with their current UTC
offset; no backward-compatible alias and no sign-reversed Etc/GMT+N name; a reader's own
zone always shown."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from digest.web.timezones import known_zones, zone_groups
from web_helpers import add_subscriber, path_of

WINTER = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
SUMMER = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)


def labels(now: datetime, current: str | None = None) -> dict[str, str]:
    return {zone: label for _, zones in zone_groups(current, now) for zone, label in zones}


def test_labels_carry_the_offset_of_the_day():
    winter, summer = labels(WINTER), labels(SUMMER)
    assert (winter["Europe/Berlin"], summer["Europe/Berlin"]) == ("Berlin (UTC+01:00)", "Berlin (UTC+02:00)")
    assert winter["America/St_Johns"] == "St Johns (UTC-03:30)"
    assert winter["Asia/Kolkata"] == "Kolkata (UTC+05:30)"
    assert winter["America/Argentina/Buenos_Aires"] == "Argentina / Buenos Aires (UTC-03:00)"
    assert winter["UTC"] == "UTC (UTC+00:00)"


def test_groups_hold_no_alias_and_no_etc_name():
    groups = zone_groups(now=WINTER)
    assert [region for region, _ in groups] == ["UTC", "Africa", "America", "Antarctica", "Arctic", "Asia",
                                                "Atlantic", "Australia", "Europe", "Indian", "Pacific"]
    zones = [zone for _, members in groups for zone, _ in members]
    assert len(zones) == len(set(zones)) == len(known_zones()) + 1  # and UTC
    for alias in ("US/Eastern", "Asia/Calcutta", "Europe/Kiev", "GMT", "Etc/GMT+5", "Canada/Pacific"):
        assert alias not in zones
    assert not [z for z in zones if z.startswith("Etc/")]
    assert "Asia/Calcutta" in labels(WINTER, current="Asia/Calcutta")  # a reader's own zone stays shown


def test_both_pages_group_the_zones(client, web_runtime, links):
    sid = add_subscriber(web_runtime, "old.zone@example.com", timezone="Asia/Calcutta")
    for html in (client.get("/subscribe").text, client.get(path_of(links.preferences_url(sid))).text):
        assert '<optgroup label="Europe">' in html
        assert re.search(r'<option value="Europe/Berlin">Berlin \(UTC\+0[12]:00\)</option>', html)
        assert 'value="US/Eastern"' not in html and 'value="Etc/' not in html
    assert re.search(r'<option value="Asia/Calcutta" selected>Calcutta \(UTC\+05:30\)</option>',
                     client.get(path_of(links.preferences_url(sid))).text)
