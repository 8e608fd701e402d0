# The built-in dataset with a third of the operators (8 / 4 / 4 instead of 36 / 12 / 12): the
# data of the tuning benchmark (benchmarks/tuning.py), where 32 training runs must fit in
# half an hour on two CPU cores.
_base_ = './default.py'
operators = dict(train=8, val=4, test=4)
