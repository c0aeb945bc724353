"""List and install ready-made flows."""

from django.core.management.base import BaseCommand, CommandError

from postpurchase import recipes
from postpurchase.exceptions import FlowDefinitionError, FlowNotLaunchedError


class Command(BaseCommand):
    help = (
        "List ready-made flows, or install one (as a draft unless --live). A flow that is "
        "installed already is left as it is."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="List the recipes.")
        install = sub.add_parser("install", help="Install a recipe by its name.")
        install.add_argument("name")
        install.add_argument(
            "--live", action="store_true", help="Check the new flow and launch it at once."
        )

    def handle(self, *args, action, **options):
        if action == "list":
            for recipe in recipes.available():
                self.stdout.write(
                    f"{recipe['slug']}: {recipe['name']} (trigger {recipe['trigger']})"
                )
            return
        name = options["name"]
        existed = recipes.is_installed(name)
        try:
            flow = recipes.install(name, live=options["live"])
        except FlowNotLaunchedError as exc:
            raise CommandError(f"{exc}\nIt was installed as a draft: fix it in the admin.") from exc
        except FlowDefinitionError as exc:
            raise CommandError(str(exc)) from exc
        if existed:
            self.stdout.write(
                f"{flow.slug} is already installed, status {flow.status}: left as it is "
                "(use the admin to change it)."
            )
        else:
            self.stdout.write(f"Installed {flow.name!s} ({flow.slug}), status {flow.status}.")
