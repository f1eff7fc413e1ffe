"""Admins manage accounts: add, change role, deactivate. Every change is audited.

Changing a user's role or active flag revokes all their sessions in the same transaction: a
deactivated user is out at once, and one whose role changed logs in again under the new role.

An admin cannot demote or deactivate themselves, so the last admin can never lock everyone out
by accident (the CLI, `pricewatch users add`, remains the way back in).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select, update

from pricing.review.actions import Actor, audit
from pricing.review.auth import CurrentUser, UserError, create_user, page_admin
from pricing.review.sessions import revoke_user_sessions
from pricing.review.web import flash, render
from pricing.store.models import Role, User

router = APIRouter(include_in_schema=False)


@router.get("/admin/users")
def users_page(request: Request, user: CurrentUser = Depends(page_admin)) -> Response:
    with request.app.state.engine.connect() as conn:
        users = conn.execute(select(User.__table__).order_by(User.name)).all()
    roles = [r.value for r in Role]
    return render(request, "users.html", {"nav": "admin", "users": users, "roles": roles})


@router.post("/admin/users")
def add_user(
    request: Request,
    name: str = Form(..., max_length=100),
    role: str = Form(...),
    password: str = Form(..., max_length=200),
    user: CurrentUser = Depends(page_admin),
) -> Response:
    engine = request.app.state.engine
    try:
        new_id = create_user(engine, name, password, role)
    except UserError as exc:
        flash(request, str(exc), "error")
    else:
        with engine.begin() as conn:
            audit(
                conn,
                Actor.of(user),
                "user_add",
                "user",
                name.strip(),
                new=role,
                details={"id": new_id},
            )
        flash(request, f"Created {name.strip()} ({role}).")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}")
def change_user(
    request: Request,
    user_id: int,
    role: str | None = Form(None),
    active: bool | None = Form(None),
    user: CurrentUser = Depends(page_admin),
) -> Response:
    if user_id == user.id:
        raise HTTPException(400, "You cannot change your own role or deactivate yourself.")
    values: dict = {}
    if role is not None:
        if role not in {r.value for r in Role}:
            raise HTTPException(400, f"role: {role!r} is not a role")
        values["role"] = role
    if active is not None:
        values["active"] = active
    if not values:
        raise HTTPException(400, "Nothing to change.")
    with request.app.state.engine.begin() as conn:
        old = conn.execute(
            select(User.name, User.role, User.active).where(User.id == user_id)
        ).first()
        if old is None:
            raise HTTPException(404, f"No user {user_id}.")
        conn.execute(update(User).where(User.id == user_id).values(**values))
        before = {"role": old.role, "active": old.active}
        revoked = 0
        if any(before[k] != v for k, v in values.items()):
            now = request.app.state.session_policy.clock()
            revoked = revoke_user_sessions(conn, user_id, now)
        audit(
            conn,
            Actor.of(user),
            "user_change",
            "user",
            old.name,
            old={k: before[k] for k in values},
            new=values,
            details={"sessions_revoked": revoked} if revoked else None,
        )
    flash(request, f"Updated {old.name}.")
    return RedirectResponse("/admin/users", status_code=303)
