//! The Python binding layer: the only code that touches pyo3 and NumPy. Registers `ferrotorch._C`.

pub mod autograd;
pub mod convert;
pub mod data;
pub mod dtype;
pub mod error;
pub mod fit;
pub mod function;
pub mod functions;
pub mod indexing;
pub mod join;
pub mod math;
pub mod matmul;
pub mod nn_conv;
pub mod nn_ops;
pub mod optim;
pub mod random;
pub mod reduce;
pub mod serialize;
pub mod tensor;
pub mod views;

use pyo3::prelude::*;

#[pymodule(name = "_C", gil_used = true)]
fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<dtype::PyDType>()?;
    m.add_class::<dtype::PyDevice>()?;
    for (name, d) in dtype::dtype_table() {
        m.add(name, d)?;
    }
    functions::register(m)?;
    autograd::register(m)?;
    function::register(m)?;
    matmul::register(m)?;
    join::register(m)?;
    random::register(m)?;
    nn_conv::register(m)?;
    data::register(m)?;
    optim::register(m)?;
    serialize::register(m)?;
    nn_ops::register(m)?;
    fit::register(m)?;
    Ok(())
}
