import json

from django.core.management.base import BaseCommand, CommandError

from crm import scoring


class Command(BaseCommand):
    help = "Train the lead-scoring model on the closed leads now, rescore open leads, print the metrics."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the metrics as JSON.")

    def handle(self, *args, **options):
        model = scoring.train()
        if model is None:
            status = scoring.model_status()["training"] or {}
            raise CommandError(status.get("message") or "Training is already running.")
        if options["json"]:
            self.stdout.write(json.dumps(model.metrics, indent=2, sort_keys=True))
            return
        metrics = model.metrics
        self.stdout.write(f"Trained {metrics['model']} on {metrics['n_leads']} closed leads.")
        self.stdout.write(f"Held-out ({metrics['n_test']} leads): ")
        for name in ("roc_auc", "accuracy", "precision", "recall", "brier", "base_rate"):
            self.stdout.write(f"  {name:<10} {metrics[name]:.3f}")
