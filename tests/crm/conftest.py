"""Fixtures for the domain and HTTP tests of the board."""

import pytest

from tests.factories import LeadFactory


@pytest.fixture
def unassigned_lead(stages):
    return LeadFactory(name="Dana Silva", stage=stages["new"], owner=None)


@pytest.fixture
def alices_lead(stages, alice):
    return LeadFactory(name="Ana Okafor", stage=stages["new"], owner=alice)


@pytest.fixture
def bobs_lead(stages, bob):
    return LeadFactory(name="Ben Dubois", stage=stages["new"], owner=bob)
