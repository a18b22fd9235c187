"""Operations: auth/RBAC, audit and the other cross-cutting services the edges use."""
