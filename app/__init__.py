"""backprop-viz: train small multilayer perceptrons and watch backpropagation happen."""
