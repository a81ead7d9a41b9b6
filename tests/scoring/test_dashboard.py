import pytest


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_agents_may_not_see_the_dashboard(client, alice, stages):
    client.force_login(alice)
    response = client.get("/dashboard-enhanced/")
    assert response.status_code == 403
    assert "for managers" in response.content.decode()


def test_the_dashboard_says_how_many_closed_leads_are_missing(manager_client, stages):
    response = manager_client.get("/dashboard-enhanced/")
    assert response.status_code == 200
    assert "50 more closed leads needed to learn" in response.content.decode()


def test_the_dashboard_shows_the_held_out_metrics_of_the_live_model(manager_client, stages, live_model):
    page = manager_client.get("/dashboard-enhanced/").content.decode()
    assert "ROC AUC" in page
    assert "held-out" in page


def test_the_train_button_queues_training_in_the_background(manager_client, stages, broker, on_commit):
    with on_commit():
        response = manager_client.post("/dashboard-enhanced/train/")
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
