"""A service's Kafka bootstrap may list several brokers, as a cluster's usually does."""

from __future__ import annotations

import pytest
from faststream.kafka import KafkaBroker

from shared.runtime.service import bootstrap_servers

pytestmark = pytest.mark.unit


def test_a_list_of_brokers_becomes_one_server_each() -> None:
    assert bootstrap_servers("10.0.0.1:9092, 10.0.0.2:9092,10.0.0.3:9092,") == [
        "10.0.0.1:9092",
        "10.0.0.2:9092",
        "10.0.0.3:9092",
    ]
    assert bootstrap_servers("127.0.0.1:19092") == ["127.0.0.1:19092"]


def test_faststream_is_given_each_broker_as_a_server_of_its_own() -> None:
    # A plain string is one server to FastStream: the whole list would be looked up as a host.
    # (The consumers it builds take their servers from this.)
    builder = KafkaBroker(bootstrap_servers("a:1,b:2")).config.broker_config.builder
    assert builder.keywords["bootstrap_servers"] == ["a:1", "b:2"]
