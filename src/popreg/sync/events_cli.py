"""``popreg events``: the operator registers event subscribers, runs the dispatcher and handles dead
letters. Commands work on ``POPREG_DATABASE_URL``; changes are logged in the access log as
``system``/``cli``.
"""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from popreg.kit.cli import run_in_transaction, split_names
from popreg.kit.database import Database
from popreg.kit.settings import Profile, get_settings
from popreg.sharing.service import CLI_OPERATOR
from popreg.sync import subscribers
from popreg.sync.dispatch import Dispatcher
from popreg.sync.events_schemas import SubscriberCreate

app = typer.Typer(help="Outbound change events: subscribers, the dispatcher, dead letters.", no_args_is_help=True)
console = Console(stderr=True)


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


@app.command("subscribe")
def subscribe(
    subscriber_id: Annotated[str, typer.Argument(help="A short slug, e.g. bhxh-webhook.")],
    url: Annotated[str, typer.Option(help="The webhook (https://...).")],
    types: Annotated[str, typer.Option(help="Comma-separated event types, or * for all.")],
    fields: Annotated[str, typer.Option(help="Comma-separated fields the subscriber's policy allows.")] = "",
    name: Annotated[str | None, typer.Option(help="The subscriber's full name.")] = None,
    partner: Annotated[
        str | None, typer.Option(help="The partner (an agency) it belongs to: its events follow that partner's policy.")
    ] = None,
) -> None:
    """Register a webhook subscriber and print its signing secret (shown only now)."""
    settings = get_settings()

    def work(session: Session) -> Any:
        data = SubscriberCreate(
            id=subscriber_id,
            name=name or subscriber_id,
            url=url,
            event_types=split_names(types),
            fields=split_names(fields),
            partner_id=partner,
        )
        subscriber, secret = subscribers.create(
            session,
            actor=CLI_OPERATOR,
            data=data,
            secret_key=settings.secret_key.get_secret_value(),
            development=settings.profile is Profile.DEVELOPMENT,
        )
        return subscribers.views(session, [subscriber], secret=secret)[0].model_dump(mode="json")

    _print(run_in_transaction(work))
    console.print("Keep the secret: it is never shown again.")


@app.command("list")
def list_subscribers() -> None:
    """Every subscriber with its status and how many events wait for it."""
    _print(
        run_in_transaction(
            lambda session: [
                view.model_dump(mode="json") for view in subscribers.views(session, subscribers.get_all(session))
            ]
        )
    )


@app.command("suspend")
def suspend(
    subscriber_id: Annotated[str, typer.Argument(help="The subscriber.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the subscriber and in the access log).")],
) -> None:
    """Stop delivering to a subscriber; its events wait and arrive, in order, once it is resumed."""
    run_in_transaction(
        lambda session: subscribers.suspend(session, actor=CLI_OPERATOR, subscriber_id=subscriber_id, reason=reason)
    )
    console.print(f"Subscriber {subscriber_id} suspended.")


@app.command("resume")
def resume(subscriber_id: Annotated[str, typer.Argument(help="The subscriber.")]) -> None:
    """Deliver again to a suspended subscriber."""
    run_in_transaction(lambda session: subscribers.resume(session, actor=CLI_OPERATOR, subscriber_id=subscriber_id))
    console.print(f"Subscriber {subscriber_id} resumed.")


@app.command("dead-letters")
def dead_letters(
    subscriber: Annotated[str | None, typer.Option(help="Only this subscriber's.")] = None,
) -> None:
    """Events that failed every attempt (oldest first)."""
    _print(
        run_in_transaction(
            lambda session: [
                letter.model_dump(mode="json") for letter in subscribers.dead_letters(session, subscriber_id=subscriber)
            ]
        )
    )


@app.command("redeliver")
def redeliver(
    delivery: Annotated[int | None, typer.Option(help="One dead letter, by its delivery id.")] = None,
    subscriber: Annotated[str | None, typer.Option(help="Every dead letter of this subscriber.")] = None,
) -> None:
    """Put dead letters back in the queue (one, a subscriber's, or with neither option all of them)."""
    count = run_in_transaction(
        lambda session: subscribers.redeliver(
            session, actor=CLI_OPERATOR, subscriber_id=subscriber, delivery_id=delivery
        )
    )
    console.print(f"{count} dead letters queued again.")


@app.command("dispatch")
def dispatch(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then stop.")] = False,
) -> None:
    """Deliver the outbox to subscribers (and to NATS JetStream when POPREG_NATS_URL is set) until
    stopped (SIGINT or SIGTERM). Run as many as needed: they share the work safely."""
    settings = get_settings()
    database = Database(settings.database_url)
    dispatcher = Dispatcher(database, settings)
    try:
        if once:
            console.print(f"{dispatcher.run_until_idle()} deliveries attempted.")
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        console.print(f"Dispatching events (worker {dispatcher.worker}); stop with Ctrl-C.")
        dispatcher.run_forever(stop)
    finally:
        dispatcher.close()
        database.dispose()
