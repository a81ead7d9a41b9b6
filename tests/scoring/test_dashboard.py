import json
import re

from crm import scoring


def test_agents_may_not_see_the_dashboard(client, alice, stages):
    client.force_login(alice)
    response = client.get("/dashboard-enhanced/")
    assert response.status_code == 403
    assert "for managers" in response.content.decode()


def test_the_dashboard_says_how_many_closed_leads_are_missing(as_manager, stages):
    response = as_manager.get("/dashboard-enhanced/")
    assert response.status_code == 200
    assert "50 more closed leads needed to learn" in response.content.decode()


def test_the_dashboard_shows_the_held_out_metrics_of_the_live_model(as_manager, stages, live_model):
    page = as_manager.get("/dashboard-enhanced/").content.decode()
    assert "ROC AUC" in page
    assert "held-out" in page


def test_the_model_card_charts_its_learning_curve_and_reliability_from_a_static_script(as_manager, history):
    scoring.train()
    page = as_manager.get("/dashboard-enhanced/").content.decode()

    data = json.loads(
        re.search(r'<script id="model-charts-data" type="application/json">(.*?)</script>', page).group(1)
    )
    assert [point["n"] for point in data["curve"]][-1] == 45  # the training split of 60 closed leads
    assert sum(point["n"] for point in data["reliability"]) == 15  # the held-out split
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in page
    assert 'src="/static/model_card.js"' in page
    assert "Learning curve" in page and "Reliability" in page


def test_the_model_card_says_which_columns_were_left_out_and_why(as_manager, history):
    for lead in history:
        lead.attributes["email"] = f"lead{lead.pk}@example.com"
        lead.save(update_fields=["attributes"])
    scoring.train()

    page = as_manager.get("/dashboard-enhanced/").content.decode()

    assert "<strong>email</strong>: 60 different values in 60 leads: an id, a name or free text" in page


def test_the_train_button_queues_training_in_the_background(as_manager, stages, broker, on_commit):
    with on_commit():
        response = as_manager.post("/dashboard-enhanced/train/")
    assert response.status_code == 200
    assert "Queued by manager" in response.content.decode()
    queued = [m.actor_name for m in _messages(broker.queues["default"])]
    assert queued == ["train_model"]


def test_agents_may_not_train(client, alice, stages):
    client.force_login(alice)
    assert client.post("/dashboard-enhanced/train/").status_code == 403


def _messages(queue):
    import dramatiq

    return [dramatiq.Message.decode(raw) for raw in list(queue.queue)]
