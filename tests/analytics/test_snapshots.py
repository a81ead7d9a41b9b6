"""Hourly AgentPerformance snapshots: what they hold, reruns, retention, the trend, the scheduled actor."""

from datetime import timedelta

from crm import analytics, snapshots
from crm.models import AgentPerformance
from workers import actors
from workers.schedule import SCHEDULE


def test_snapshot_holds_each_agents_ninety_day_figures_as_of_the_hour(team, alice, bob):
    written = snapshots.record_agent_performance(team.now)

    assert written == 2
    rows = {row.agent.username: row for row in AgentPerformance.objects.select_related("agent")}
    assert {row.hour for row in rows.values()} == {team.now.replace(minute=0, second=0, microsecond=0)}
    a, b = rows["alice"], rows["bob"]
    assert (a.assigned, a.contacted, a.won, a.lost, a.overdue) == (4, 3, 2, 1, 1)
    assert (a.median_hours_to_first_contact, a.interactions_per_lead) == (4.0, 1.0)
    assert (b.assigned, b.contacted, b.won, b.lost, b.median_hours_to_first_contact) == (3, 2, 0, 1, 2.0)


def test_a_rerun_in_the_same_hour_overwrites_the_hours_rows(team, stages, alice):
    snapshots.record_agent_performance(team.now)
    team.leads["A4"].stage = stages["won"]
    team.leads["A4"].save()

    snapshots.record_agent_performance(team.now + timedelta(seconds=1))

    assert AgentPerformance.objects.count() == 2
    assert AgentPerformance.objects.get(agent=alice).won == 3


def test_snapshots_older_than_400_days_are_deleted(team, alice):
    old = AgentPerformance.objects.create(agent=alice, hour=team.now - timedelta(days=401))
    kept = AgentPerformance.objects.create(agent=alice, hour=team.now - timedelta(days=399))

    snapshots.record_agent_performance(team.now)

    assert not AgentPerformance.objects.filter(pk=old.pk).exists()
    assert AgentPerformance.objects.filter(pk=kept.pk).exists()


def test_trend_takes_each_days_last_snapshot(team, alice, bob):
    day = team.now - timedelta(days=1)
    AgentPerformance.objects.create(agent=alice, hour=day.replace(hour=1), assigned=4, won=1)
    AgentPerformance.objects.create(agent=alice, hour=day.replace(hour=2), assigned=4, won=2)
    AgentPerformance.objects.create(agent=bob, hour=day.replace(hour=2), assigned=0, won=0)

    trend = snapshots.conversion_trend(analytics.preset_period("7d"))

    assert trend == {
        "labels": [day.date().isoformat()],
        "datasets": [{"label": "alice", "data": [50.0]}, {"label": "bob", "data": [None]}],
    }


def test_the_snapshot_actor_runs_every_hour(team, broker):
    assert ("refresh_agent_performance", timedelta(hours=1)) in SCHEDULE

    actors.refresh_agent_performance()  # thin: the crm function does the work

    assert AgentPerformance.objects.count() == 2
