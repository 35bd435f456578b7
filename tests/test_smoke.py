import matcalc


def test_least_squares_gradient_is_textbook_and_verified():
    r = matcalc.grad("norm(A*x - b)**2", "x")
    assert r.text == "2Aᵀ(Ax − b)"
    assert r.verify().passed
