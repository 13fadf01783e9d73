"""SQLAlchemy ORM work in sessions: CRUD, a join, a commit, a rollback, a savepoint rolled
back (begin_nested), an IntegrityError rolled back. Exits 1 on an unexpected result;
test_orms.py then checks the rows on the shard itself."""
import sys
from decimal import Decimal

from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import dburl
from models import Customer, Order


def expect(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def main() -> None:
    engine = create_engine(dburl.url(), echo=True, future=True)
    with Session(engine) as session:
        ada = Customer(email="ada@example.com", name="Ada", plan="pro")
        bob = Customer(email="bob@example.com", name="Bob")
        ada.orders.append(Order(number="A-1", total=Decimal("12.50")))
        session.add_all([ada, bob])
        session.commit()
        order = session.scalars(select(Order).where(Order.number == "A-1")).one()
        expect("trigger set updated_at on insert", order.updated_at is not None, True)
        order.total = Decimal("13.00")
        session.delete(bob)
        session.commit()
        rows = session.execute(select(Customer.email, Customer.plan, Order.number)
                               .join(Order.customer)).all()
        expect("join", [tuple(r) for r in rows], [("ada@example.com", "pro", "A-1")])

        session.add(Customer(email="eve@example.com", name="Eve"))
        session.flush()
        session.rollback()

        carol = Customer(email="carol@example.com", name="Carol")
        carol.orders.append(Order(number="C-1", total=Decimal("1.00")))
        session.add(carol)
        with session.begin_nested():
            session.add(Customer(email="dave@example.com", name="Dave"))
            session.flush()
        nested = session.begin_nested()
        session.add(Customer(email="frank@example.com", name="Frank"))
        session.flush()
        nested.rollback()
        session.commit()

        session.add(Customer(email="ada@example.com", name="Ada again"))
        try:
            session.commit()
            sys.exit("unique email: no IntegrityError")
        except IntegrityError:
            session.rollback()

        emails = sorted(session.scalars(select(Customer.email)))
        expect("customers", emails, ["ada@example.com", "carol@example.com", "dave@example.com"])
        print("current_schema", session.execute(text("SELECT current_schema()")).scalar())


if __name__ == "__main__":
    main()
