from sqlalchemy import (Column, DateTime, Enum, ForeignKey, Integer, Numeric, String,
                        UniqueConstraint)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class Customer(Base):
    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    email = Column(String(200), nullable=False, unique=True)
    name = Column(String(100), nullable=False, index=True)
    plan = Column(Enum("free", "pro", name="customer_plan"), nullable=False, server_default="free")
    updated_at = Column(DateTime(timezone=True))
    orders = relationship("Order", back_populates="customer", cascade="all, delete-orphan")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("customer_id", "number", name="orders_customer_number_key"),)
    id = Column(Integer, primary_key=True)
    customer_id = Column(ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    number = Column(String(20), nullable=False)
    total = Column(Numeric(10, 2), nullable=False)
    updated_at = Column(DateTime(timezone=True))     # set by the trigger of revision 0002
    customer = relationship("Customer", back_populates="orders")
