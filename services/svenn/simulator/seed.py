"""Demo data that exercises every Svenn sync rule at least once.

Seeded through the same rules as the API (``resources``), so it can never hold a record the
API would refuse. Each record's comment names the rule it is there to provoke.
"""

from __future__ import annotations

from datetime import date

from services.svenn.simulator import resources
from services.svenn.simulator.models import CustomerCreate, EmployeeCreate, ProjectCreate
from services.svenn.simulator.state import SimState, TenantState


def seed_tenant(state: SimState, tenant: TenantState) -> None:
    emit = state.emit
    kari = resources.create_employee(
        tenant,
        EmployeeCreate(employee_number="1", first_name="Kari", last_name="Nordmann", email="kari@example.no"),
    )
    emit(tenant, "employee", kari, "created")
    # S-E1: no last name -> EMPLOYEE_MISSING_LAST_NAME.
    ola = resources.create_employee(tenant, EmployeeCreate(first_name="Ola", email="ola@example.no"))
    emit(tenant, "employee", ola, "created")
    # S-E3: inactive -> not synced to Tripletex.
    per = resources.create_employee(
        tenant, EmployeeCreate(employee_number="3", first_name="Per", last_name="Hansen", status="inactive")
    )
    emit(tenant, "employee", per, "created")

    acme = resources.create_customer(
        tenant,
        CustomerCreate(
            customer_number="10001",
            name="Acme Bygg AS",
            organization_number="987654321",
            email="post@acme.example.no",
            address_line1="Storgata 1",
            postal_code="0155",
            city="Oslo",
        ),
    )
    emit(tenant, "customer", acme, "created")
    # S-C1: non-numeric customer number -> CUSTOMER_NON_NUMERIC_ID.
    alpha = resources.create_customer(tenant, CustomerCreate(customer_number="K-17", name="Alfa Rør"))
    emit(tenant, "customer", alpha, "created")
    # S-C2: inactive -> not synced.
    sleepy = resources.create_customer(
        tenant, CustomerCreate(customer_number="10003", name="Sovende Snekker", status="inactive")
    )
    emit(tenant, "customer", sleepy, "created")

    main = resources.create_project(
        tenant,
        ProjectCreate(
            display_id="2024.17",  # S-P6: letters and dots are fine.
            name="Rehabilitering Storgata 1",
            start_date=date(2024, 3, 1),
            customer_id=acme.id,
            member_ids=[kari.id],
        ),
    )
    emit(tenant, "project", main, "created")
    # S-P2: a sub-project reusing its parent's display_id.
    sub = resources.create_project(
        tenant, ProjectCreate(name="Bad 2. etasje", parent_id=main.id, start_date=date(2024, 4, 1))
    )
    emit(tenant, "project", sub, "created")
    # S-P1: no start date -> PROJECT_MISSING_START_DATE.
    undated = resources.create_project(tenant, ProjectCreate(display_id="A12.3", name="Befaring uten dato"))
    emit(tenant, "project", undated, "created")
